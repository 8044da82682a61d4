package bcrypt_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	xbcrypt "golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/adapters/bcrypt"
	"github.com/authd/authd/domain"
)

func hash(t *testing.T, h *bcrypt.Hasher, pw domain.Password) domain.PasswordHash {
	t.Helper()
	got, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return got
}

func TestCompare(t *testing.T) {
	t.Parallel()
	long72 := strings.Repeat("a", 72)
	// 128 characters of 4 bytes each: 512 bytes, the longest password
	// domain.ParsePassword accepts.
	emoji := strings.Repeat("😀", 128)
	emojiOther := strings.Repeat("😀", 127) + "😃"
	tests := []struct {
		name    string
		stored  string // the password that was hashed
		given   string // the password presented at login
		wantErr error  // nil: must match
	}{
		{"same password", "correct horse battery", "correct horse battery", nil},
		{"wrong password", "correct horse battery", "correct horse battery staple", domain.ErrInvalidCredentials},
		{"case differs", "Password123", "password123", domain.ErrInvalidCredentials},
		// bcrypt alone reads 72 bytes: these two would collide without the pre-hash.
		{"differs after byte 72", long72 + "first", long72 + "second", domain.ErrInvalidCredentials},
		{"differs only in the last of 100 bytes", strings.Repeat("b", 99) + "x", strings.Repeat("b", 99) + "y", domain.ErrInvalidCredentials},
		{"prefix of 72 bytes alone", long72 + "tail", long72, domain.ErrInvalidCredentials},
		{"128 multibyte characters", emoji, emoji, nil},
		{"128 multibyte characters, last differs", emoji, emojiOther, domain.ErrInvalidCredentials},
		{"accented", "pässwörd-ñ-日本語", "pässwörd-ñ-日本語", nil},
		{"NFC vs NFD are different bytes", "caf\u00e9-password", "cafe\u0301-password", domain.ErrInvalidCredentials},
	}
	h := bcrypt.NewHasher(xbcrypt.MinCost)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := hash(t, h, domain.Password(tc.stored))
			err := h.Compare(context.Background(), stored, domain.Password(tc.given))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Compare = %v, want a match", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Compare = %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, bcrypt.ErrMalformedHash) {
				t.Fatalf("Compare = %v: a plain mismatch must not look like a malformed hash", err)
			}
		})
	}
}

func TestLongPasswordsAreAccepted(t *testing.T) {
	t.Parallel()
	pw := strings.Repeat("😀", 128)
	if n := len(pw); n != 512 || utf8.RuneCountInString(pw) != 128 {
		t.Fatalf("fixture: %d bytes", n)
	}
	// x/crypto refuses inputs over 72 bytes (ErrPasswordTooLong); the
	// hasher must not pass that limit on to users.
	if _, err := bcrypt.NewHasher(xbcrypt.MinCost).Hash(context.Background(), domain.Password(pw)); err != nil {
		t.Fatalf("Hash of a 512-byte password: %v", err)
	}
}

func TestSaltDiffers(t *testing.T) {
	t.Parallel()
	h := bcrypt.NewHasher(xbcrypt.MinCost)
	a, b := hash(t, h, "same password"), hash(t, h, "same password")
	if a == b {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

// TestStoredFormat pins the pre-hash. Stored hashes depend on it: changing
// it would lock every existing user out.
func TestStoredFormat(t *testing.T) {
	t.Parallel()
	const pw = "correct horse battery"
	stored := hash(t, bcrypt.NewHasher(xbcrypt.MinCost+1), pw)
	if !strings.HasPrefix(string(stored), "$2a$05$") {
		t.Fatalf("hash %q: want a $2a$05$ bcrypt string", stored)
	}
	sum := sha256.Sum256([]byte(pw))
	input := base64.StdEncoding.EncodeToString(sum[:])
	if err := xbcrypt.CompareHashAndPassword([]byte(stored), []byte(input)); err != nil {
		t.Fatalf("hash is not bcrypt(base64(sha256(pw))): %v", err)
	}
	if err := xbcrypt.CompareHashAndPassword([]byte(stored), []byte(pw)); err == nil {
		t.Fatal("hash matches the raw password: pre-hash not applied")
	}
}

func TestMalformedHash(t *testing.T) {
	t.Parallel()
	h := bcrypt.NewHasher(xbcrypt.MinCost)
	good := hash(t, h, "correct horse battery")
	tests := []struct {
		name string
		hash domain.PasswordHash
	}{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"truncated", good[:20]},
		{"unknown prefix", "$9z$" + good[4:]},
		{"cost out of range", "$2a$99$" + good[7:]},
		{"argon2", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := h.Compare(context.Background(), tc.hash, "correct horse battery")
			if !errors.Is(err, domain.ErrInvalidCredentials) {
				t.Errorf("Compare = %v, want ErrInvalidCredentials", err)
			}
			if !errors.Is(err, bcrypt.ErrMalformedHash) {
				t.Errorf("Compare = %v, want ErrMalformedHash too", err)
			}
			if h.NeedsRehash(tc.hash) {
				t.Error("NeedsRehash = true for a hash that can never match")
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	low := hash(t, bcrypt.NewHasher(xbcrypt.MinCost), "correct horse battery")
	mid := hash(t, bcrypt.NewHasher(xbcrypt.MinCost+1), "correct horse battery")
	high := hash(t, bcrypt.NewHasher(xbcrypt.MinCost+2), "correct horse battery")
	h := bcrypt.NewHasher(xbcrypt.MinCost + 1)
	tests := []struct {
		name string
		hash domain.PasswordHash
		want bool
	}{
		{"lower cost", low, true},
		{"same cost", mid, false},
		{"higher cost", high, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.NeedsRehash(tc.hash); got != tc.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tc.want)
			}
			// A hash of another cost still verifies: the upgrade happens
			// after a successful Compare.
			if err := h.Compare(context.Background(), tc.hash, "correct horse battery"); err != nil {
				t.Errorf("Compare = %v", err)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	h := bcrypt.NewHasher(xbcrypt.MinCost)
	stored := hash(t, h, "correct horse battery")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := h.Hash(ctx, "correct horse battery"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash = %v, want context.Canceled", err)
	}
	for _, pw := range []domain.Password{"correct horse battery", "wrong password"} {
		err := h.Compare(ctx, stored, pw)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Compare = %v, want context.Canceled", err)
		}
		// "No answer" must not read as "wrong password" (ports.PasswordHasher).
		if errors.Is(err, domain.ErrInvalidCredentials) {
			t.Errorf("Compare = %v: a cancelled compare must not be a mismatch", err)
		}
	}
}

func TestNewHasherRejectsBadCost(t *testing.T) {
	t.Parallel()
	for _, cost := range []int{0, xbcrypt.MinCost - 1, xbcrypt.MaxCost + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHasher(%d) did not panic", cost)
				}
			}()
			bcrypt.NewHasher(cost)
		}()
	}
}

// BenchmarkCompare measures one comparison at the production default cost,
// the ceiling on logins per second per core.
func BenchmarkCompare(b *testing.B) {
	h := bcrypt.NewHasher(10)
	stored, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := h.Compare(ctx, stored, "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
