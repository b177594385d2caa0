package auth

import (
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "short", false},
		{"alice", "elevenchars", false},
		{"alice", "twelve-chars", true},
		{"alice", "xx-ALICE-xx-long", false}, // contains the name
		{"alice", "alice", false},
		{"alice", "Password1234", false},  // common, case-insensitive
		{"alice", "qwertyuiop!!", false},  // common after trimming ! and digits
		{"alice", "password2024!", false}, // common root + digits
		{"alice", "小心機床主軸轉速很高的", false},   // 11 runes: length counts characters
		{"alice", "小心機床主軸轉速很高的喔", true},
		{"alice", strings.Repeat("x", 2000), false},
	} {
		err := CheckPassword(c.user, c.pw)
		if (err == nil) != c.ok {
			t.Errorf("CheckPassword(%q, %q) = %v, want ok=%v", c.user, c.pw, err, c.ok)
		}
		if err != nil && errcode.Of(err) != errcode.AuthWeakPassword {
			t.Errorf("code %v", err)
		}
		if err != nil && strings.Contains(err.Error(), c.pw) {
			t.Errorf("error echoes the password: %v", err)
		}
	}
}

func TestHashVerify(t *testing.T) {
	h := HashPassword("twelve-chars", testArgon)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=256,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if h2 := HashPassword("twelve-chars", testArgon); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, stale := VerifyPassword(h, "twelve-chars", testArgon); !ok || stale {
		t.Fatalf("verify = %v, %v", ok, stale)
	}
	if ok, _ := VerifyPassword(h, "twelve-charz", testArgon); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, stale := VerifyPassword(h, "twelve-chars", Argon2Params{Memory: 512, Time: 1, Threads: 1}); !ok || !stale {
		t.Fatalf("after raising parameters: ok=%v stale=%v", ok, stale)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=256,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		strings.Replace(h, "t=1", "t=0", 1)} {
		if ok, _ := VerifyPassword(bad, "twelve-chars", testArgon); ok {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}

func TestRehashOnLogin(t *testing.T) {
	f := newFixture(t, nil)
	f.user("alice", RoleViewer)
	raised := Argon2Params{Memory: 512, Time: 2, Threads: 1}
	f.s.opts.Argon2 = raised
	f.login("alice")
	u, _ := f.s.User(f.ctx, "alice")
	if !strings.Contains(u.pwHash, "m=512,t=2,p=1") {
		t.Fatalf("hash not upgraded: %s", u.pwHash)
	}
	f.clk.Add(0)
	f.login("alice") // the new hash verifies
}

func TestCreateUserChecks(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.s.CreateUser(f.ctx, "bob", "bob-is-my-name", []string{RoleViewer}, nil)
	wantCode(t, err, errcode.AuthWeakPassword)
	_, err = f.s.CreateUser(f.ctx, "bob", goodPW, []string{"wizard"}, nil)
	wantCode(t, err, errcode.AuthBadRole)
	_, err = f.s.CreateUser(f.ctx, "bob", goodPW, nil, nil)
	wantCode(t, err, errcode.AuthBadRole)
	_, err = f.s.CreateUser(f.ctx, "bob", goodPW, []string{RoleViewer}, []string{"acme/../x y"})
	wantCode(t, err, errcode.AuthBadInput)
	_, err = f.s.CreateUser(f.ctx, "Bob Smith", goodPW, []string{RoleViewer}, nil)
	wantCode(t, err, errcode.AuthBadInput)
	f.user("bob", RoleViewer)
	_, err = f.s.CreateUser(f.ctx, "BOB", goodPW, []string{RoleViewer}, nil)
	wantCode(t, err, errcode.AuthUserExists)
	u, _ := f.s.User(f.ctx, "bob")
	if len(u.Scopes) != 1 || u.Scopes[0] != ScopeAll {
		t.Fatalf("default scopes %v", u.Scopes)
	}
	if u.MFARequired {
		t.Fatal("viewer needs no MFA by default")
	}
}
