package mtconnect

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

func TestBoundary(t *testing.T) {
	if b, ok := Boundary("multipart/x-mixed-replace;boundary=a8e12eced4fb871ac096a99bf9728425"); !ok || b != "a8e12eced4fb871ac096a99bf9728425" {
		t.Fatal(b, ok)
	}
	for _, ct := range []string{"text/xml", "multipart/x-mixed-replace", "", "multipart/x-mixed-replace;boundary="} {
		if _, ok := Boundary(ct); ok {
			t.Errorf("%q has no boundary", ct)
		}
	}
}

func parts(t *testing.T, stream string, max int64) ([]string, error) {
	t.Helper()
	pr := NewPartReader(strings.NewReader(stream), "XX", max)
	var out []string
	for i := 0; i < 100; i++ {
		b, err := pr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, string(b))
	}
	t.Fatal("too many parts")
	return nil, nil
}

func TestPartReader(t *testing.T) {
	// Parts with lengths, as agents send them, then one without.
	stream := "\r\n--XX\r\nContent-type: text/xml\r\nContent-length: 5\r\n\r\n<a/>\n\r\n" +
		"--XX\r\nContent-type: text/xml\r\nContent-length: 3\r\n\r\n<b>\r\n" +
		"--XX\r\nContent-type: text/xml\r\n\r\n<c>\nline two\r\n--XX\r\nContent-length: 0\r\n\r\n\r\n--XX--\r\n"
	got, err := parts(t, stream, 1024)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
	want := []string{"<a/>\n", "<b>", "<c>\nline two", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("parts %q, want %q", got, want)
	}
}

func TestPartReaderErrors(t *testing.T) {
	for name, c := range map[string]struct {
		stream string
		code   errcode.Code
	}{
		"too large by length": {"--XX\r\nContent-length: 2000\r\n\r\n", errcode.MTConnectTooLarge},
		"too large unframed":  {"--XX\r\n\r\n" + strings.Repeat("a", 3000) + "\r\n--XX--", errcode.MTConnectTooLarge},
		"cut in body":         {"--XX\r\nContent-length: 10\r\n\r\nabc", errcode.MTConnectBadMultipart},
		"cut in headers":      {"--XX\r\nContent-length: 10", errcode.MTConnectBadMultipart},
		"bad length":          {"--XX\r\nContent-length: -1\r\n\r\n", errcode.MTConnectBadMultipart},
		"no colon":            {"--XX\r\nbogus\r\n\r\n", errcode.MTConnectBadMultipart},
		"no boundary":         {strings.Repeat("junk\n", 500), errcode.MTConnectBadMultipart},
		"long header":         {"--XX\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", errcode.MTConnectBadMultipart},
		"many headers":        {"--XX\r\n" + strings.Repeat("A: b\r\n", 40) + "\r\n", errcode.MTConnectBadMultipart},
	} {
		_, err := parts(t, c.stream, 1024)
		if errcode.Of(err) != c.code {
			t.Errorf("%s: want %s, got %v", name, c.code, err)
		}
	}
}
