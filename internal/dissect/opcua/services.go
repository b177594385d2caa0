package opcua

import "github.com/otlink/otlink/internal/dissect"

// service is what the dissector knows of one service encoding NodeId
// (namespace 0, the "_Encoding_DefaultBinary" ids of the OPC UA NodeIds
// CSV).
type service struct {
	name     string
	response bool
	action   dissect.Action
}

// services maps the binary encoding id of each request and response type.
var services = map[uint32]service{
	397: {"ServiceFault", true, dissect.ActOther},

	422:   {"FindServersRequest", false, dissect.ActIdentify},
	425:   {"FindServersResponse", true, dissect.ActIdentify},
	12208: {"FindServersOnNetworkRequest", false, dissect.ActIdentify},
	12209: {"FindServersOnNetworkResponse", true, dissect.ActIdentify},
	428:   {"GetEndpointsRequest", false, dissect.ActIdentify},
	431:   {"GetEndpointsResponse", true, dissect.ActIdentify},
	437:   {"RegisterServerRequest", false, dissect.ActOther},
	440:   {"RegisterServerResponse", true, dissect.ActOther},
	12211: {"RegisterServer2Request", false, dissect.ActOther},
	12212: {"RegisterServer2Response", true, dissect.ActOther},

	446: {"OpenSecureChannelRequest", false, dissect.ActConnect},
	449: {"OpenSecureChannelResponse", true, dissect.ActConnect},
	452: {"CloseSecureChannelRequest", false, dissect.ActConnect},
	455: {"CloseSecureChannelResponse", true, dissect.ActConnect},

	461: {"CreateSessionRequest", false, dissect.ActAuth},
	464: {"CreateSessionResponse", true, dissect.ActAuth},
	467: {"ActivateSessionRequest", false, dissect.ActAuth},
	470: {"ActivateSessionResponse", true, dissect.ActAuth},
	473: {"CloseSessionRequest", false, dissect.ActAuth},
	476: {"CloseSessionResponse", true, dissect.ActAuth},
	479: {"CancelRequest", false, dissect.ActOther},
	482: {"CancelResponse", true, dissect.ActOther},

	488: {"AddNodesRequest", false, dissect.ActWrite},
	491: {"AddNodesResponse", true, dissect.ActWrite},
	494: {"AddReferencesRequest", false, dissect.ActWrite},
	497: {"AddReferencesResponse", true, dissect.ActWrite},
	500: {"DeleteNodesRequest", false, dissect.ActWrite},
	503: {"DeleteNodesResponse", true, dissect.ActWrite},
	506: {"DeleteReferencesRequest", false, dissect.ActWrite},
	509: {"DeleteReferencesResponse", true, dissect.ActWrite},

	527: {"BrowseRequest", false, dissect.ActIdentify},
	530: {"BrowseResponse", true, dissect.ActIdentify},
	533: {"BrowseNextRequest", false, dissect.ActIdentify},
	536: {"BrowseNextResponse", true, dissect.ActIdentify},
	554: {"TranslateBrowsePathsToNodeIdsRequest", false, dissect.ActIdentify},
	557: {"TranslateBrowsePathsToNodeIdsResponse", true, dissect.ActIdentify},
	560: {"RegisterNodesRequest", false, dissect.ActOther},
	563: {"RegisterNodesResponse", true, dissect.ActOther},
	566: {"UnregisterNodesRequest", false, dissect.ActOther},
	569: {"UnregisterNodesResponse", true, dissect.ActOther},
	615: {"QueryFirstRequest", false, dissect.ActIdentify},
	618: {"QueryFirstResponse", true, dissect.ActIdentify},
	621: {"QueryNextRequest", false, dissect.ActIdentify},
	624: {"QueryNextResponse", true, dissect.ActIdentify},

	631: {"ReadRequest", false, dissect.ActRead},
	634: {"ReadResponse", true, dissect.ActRead},
	664: {"HistoryReadRequest", false, dissect.ActRead},
	667: {"HistoryReadResponse", true, dissect.ActRead},
	673: {"WriteRequest", false, dissect.ActWrite},
	676: {"WriteResponse", true, dissect.ActWrite},
	700: {"HistoryUpdateRequest", false, dissect.ActWrite},
	703: {"HistoryUpdateResponse", true, dissect.ActWrite},
	// A method call can change anything in the server: classed as a write
	// so that "a write from a host that never wrote" covers it.
	712: {"CallRequest", false, dissect.ActWrite},
	715: {"CallResponse", true, dissect.ActWrite},

	751: {"CreateMonitoredItemsRequest", false, dissect.ActSubscribe},
	754: {"CreateMonitoredItemsResponse", true, dissect.ActSubscribe},
	763: {"ModifyMonitoredItemsRequest", false, dissect.ActSubscribe},
	766: {"ModifyMonitoredItemsResponse", true, dissect.ActSubscribe},
	769: {"SetMonitoringModeRequest", false, dissect.ActSubscribe},
	772: {"SetMonitoringModeResponse", true, dissect.ActSubscribe},
	775: {"SetTriggeringRequest", false, dissect.ActSubscribe},
	778: {"SetTriggeringResponse", true, dissect.ActSubscribe},
	781: {"DeleteMonitoredItemsRequest", false, dissect.ActSubscribe},
	784: {"DeleteMonitoredItemsResponse", true, dissect.ActSubscribe},
	787: {"CreateSubscriptionRequest", false, dissect.ActSubscribe},
	790: {"CreateSubscriptionResponse", true, dissect.ActSubscribe},
	793: {"ModifySubscriptionRequest", false, dissect.ActSubscribe},
	796: {"ModifySubscriptionResponse", true, dissect.ActSubscribe},
	799: {"SetPublishingModeRequest", false, dissect.ActSubscribe},
	802: {"SetPublishingModeResponse", true, dissect.ActSubscribe},
	826: {"PublishRequest", false, dissect.ActSubscribe},
	829: {"PublishResponse", true, dissect.ActData},
	832: {"RepublishRequest", false, dissect.ActSubscribe},
	835: {"RepublishResponse", true, dissect.ActData},
	841: {"TransferSubscriptionsRequest", false, dissect.ActSubscribe},
	844: {"TransferSubscriptionsResponse", true, dissect.ActSubscribe},
	847: {"DeleteSubscriptionsRequest", false, dissect.ActSubscribe},
	850: {"DeleteSubscriptionsResponse", true, dissect.ActSubscribe},
}

// Service ids the decoder looks into.
const (
	svcFault             = 397
	svcFindServersResp   = 425
	svcGetEndpointsResp  = 431
	svcOpenReq           = 446
	svcOpenResp          = 449
	svcCreateSessionReq  = 461
	svcCreateSessionResp = 464
	svcBrowseReq         = 527
	svcReadReq           = 631
	svcReadResp          = 634
	svcWriteReq          = 673
	svcCallReq           = 712
	svcCreateMonReq      = 751
	svcPublishResp       = 829
)
