package asset

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// CSVHeader is the first row of WriteCSV, one column per Asset field.
var CSVHeader = []string{"ip", "mac", "vendor", "name", "driver", "configured", "seen", "role", "role_reason",
	"server_of", "client_of", "peers", "identity", "vlans", "first_seen", "last_seen", "packets", "bytes"}

// WriteCSV writes assets as CSV (RFC 4180): lists are joined with ";",
// identity as key=value pairs sorted by key, times in RFC 3339.
func WriteCSV(w io.Writer, assets []Asset) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return errcode.Wrap(errcode.AssetExport, err, "write asset csv")
	}
	for _, a := range assets {
		id := make([]string, 0, len(a.Identity))
		for k, v := range a.Identity {
			id = append(id, k+"="+v)
		}
		sort.Strings(id)
		vl := make([]string, len(a.VLANs))
		for i, v := range a.VLANs {
			vl[i] = strconv.Itoa(int(v))
		}
		row := []string{a.IP, a.MAC, a.Vendor, a.Name, a.Driver, strconv.FormatBool(a.Configured), strconv.FormatBool(a.Seen),
			string(a.Role), a.RoleReason, strings.Join(a.ServerOf, ";"), strings.Join(a.ClientOf, ";"), strconv.Itoa(a.Peers),
			strings.Join(id, ";"), strings.Join(vl, ";"), csvTime(a.First), csvTime(a.Last),
			strconv.FormatUint(a.Packets, 10), strconv.FormatUint(a.Bytes, 10)}
		if err := cw.Write(row); err != nil {
			return errcode.Wrap(errcode.AssetExport, err, "write asset csv")
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return errcode.Wrap(errcode.AssetExport, err, "write asset csv")
	}
	return nil
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// WriteJSON writes assets as an indented JSON array.
func WriteJSON(w io.Writer, assets []Asset) error {
	if assets == nil {
		assets = []Asset{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(assets); err != nil {
		return errcode.Wrap(errcode.AssetExport, err, "write asset json")
	}
	return nil
}
