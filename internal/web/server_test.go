package web

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

type fakeSource struct{ tags []Tag }

func (f fakeSource) Tags() []Tag  { return f.tags }
func (f fakeSource) Devices() any { return []string{"d1"} }

func TestCheckLoopback(t *testing.T) {
	for _, a := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:0", "127.9.9.9:1"} {
		if err := CheckLoopback(a); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	for _, a := range []string{"0.0.0.0:8080", ":8080", "10.0.0.1:80", "[::]:80", "example.com:80"} {
		if err := CheckLoopback(a); errcode.Of(err) != errcode.HTTPNotLoopback {
			t.Errorf("%s: %v, want %s", a, err, errcode.HTTPNotLoopback)
		}
	}
	if err := CheckLoopback("nonsense"); errcode.Of(err) != errcode.HTTPListen {
		t.Errorf("nonsense: %v", err)
	}
}

func TestRoutes(t *testing.T) {
	src := fakeSource{tags: []Tag{
		{Path: "acme/a/x", Value: model.FloatValue(model.Float64, 1.5), Quality: model.Good, Time: time.Unix(1, 0).UTC()},
		{Path: "acme/b/y", Quality: model.BadTimeout, Code: "OTL-2102"},
	}}
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	token = f.admin
	defer func() { token = "" }()
	s := New(Options{Listen: "127.0.0.1:0", Source: src, Auth: f.svc})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	base := "http://" + s.Addr()

	var tags struct{ Tags []map[string]any }
	get(t, base+"/api/v1/tags?prefix=acme/a/", 200, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0]["path"] != "acme/a/x" || tags.Tags[0]["value"] != 1.5 || tags.Tags[0]["quality"] != "Good" {
		t.Fatalf("tags: %+v", tags)
	}
	get(t, base+"/api/v1/tags", 200, &tags)
	if len(tags.Tags) != 2 || tags.Tags[1]["quality"] != "BadTimeout" || tags.Tags[1]["code"] != "OTL-2102" {
		t.Fatalf("tags: %+v", tags)
	}
	var e struct{ Code, Message string }
	get(t, base+"/api/v1/nope", 404, &e)
	if e.Code != "OTL-6001" {
		t.Fatalf("error body: %+v", e)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/tags", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /api/v1/tags: %d", resp.StatusCode)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("security headers missing: %v", resp.Header)
	}
}

// token authenticates get.
var token string

func get(t *testing.T, url string, status int, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s: %d, want %d", url, resp.StatusCode, status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}
