package app

import (
	"context"

	"github.com/authd/authd/domain"
)

// CredentialCache lets a repeat login with the same correct password skip
// the password hasher (AUTH_CREDENTIAL_CACHE_TTL; off by default). It is a
// seam of this package only, so it is declared here; memory.CredentialCache
// implements it.
//
// An implementation keeps no password, only a keyed MAC that never leaves
// the process, and must never report true for anything it was not told to
// Remember: Verified is the whole password check on a hit. The stored hash
// is part of every call so that a password changed anywhere (another
// instance included) stops matching here once the new hash is read.
//
// Use cases that change a password, deactivate or delete an account must
// call Forget for that user once the change is stored (ChangePassword and
// the admin use cases, which are not written yet). The hash in the key
// already covers a password change seen through the store; Forget also
// covers deactivation and deletion, and drops the entry at once instead of
// at its ttl.
type CredentialCache interface {
	// Verified reports whether pw was remembered as matching hash for id
	// and has not expired.
	Verified(id domain.UserID, hash domain.PasswordHash, pw domain.Password) bool
	// Remember records that the hasher found pw to match hash for id.
	Remember(id domain.UserID, hash domain.PasswordHash, pw domain.Password)
	// Forget drops what is remembered for id.
	Forget(id domain.UserID)
}

// noCredentialCache is what New installs when Deps.Credentials is nil, so
// use cases call Forget without checking whether the cache is on.
type noCredentialCache struct{}

func (noCredentialCache) Verified(domain.UserID, domain.PasswordHash, domain.Password) bool {
	return false
}
func (noCredentialCache) Remember(domain.UserID, domain.PasswordHash, domain.Password) {}
func (noCredentialCache) Forget(domain.UserID)                                         {}

// checkPassword is Hasher.Compare for a known user, answered from the
// credential cache when the same password was checked recently. Only a
// successful comparison is remembered; a wrong password always costs a full
// comparison, so the cache changes nothing for guessing.
func (s *Service) checkPassword(ctx context.Context, u domain.User, pw domain.Password) error {
	if s.Credentials.Verified(u.ID, u.PasswordHash, pw) {
		return nil
	}
	if err := s.Hasher.Compare(ctx, u.PasswordHash, pw); err != nil {
		return err
	}
	s.Credentials.Remember(u.ID, u.PasswordHash, pw)
	return nil
}

// forgetCredentials drops the user's verified-password entry; password
// change, deactivation and deletion call it.
func (s *Service) forgetCredentials(id domain.UserID) { s.Credentials.Forget(id) }
