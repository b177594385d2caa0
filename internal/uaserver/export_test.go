package uaserver

import "github.com/gopcua/opcua/ua"

type uaVariant = ua.Variant

func mustVariant(x any) *ua.Variant { return ua.MustVariant(x) }
