package detect

import (
	"slices"
	"time"
)

func unixNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func sortedFrames(l []uint64) []uint64 {
	out := slices.Clone(l)
	slices.Sort(out)
	return slices.Compact(out)
}
