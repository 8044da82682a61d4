// Package ports declares what the application core needs from the outside
// world. Each interface has an in-memory fake, one or more real adapters,
// and a contract suite in test/contract that every one of them passes.
package ports

import (
	"context"

	"github.com/authd/authd/domain"
)

// UserStore keeps accounts. It is the source of truth for them.
type UserStore interface {
	// Create stores a new user. Returns domain.ErrEmailTaken when another
	// user has the same email (emails are stored lower-cased).
	Create(ctx context.Context, u domain.User) error
	// ByEmail returns domain.ErrNotFound when no user has that email.
	ByEmail(ctx context.Context, email domain.Email) (domain.User, error)
	// ByID returns domain.ErrNotFound when no user has that id.
	ByID(ctx context.Context, id domain.UserID) (domain.User, error)
	// Update loads the user, calls fn on it and stores the result, all in one
	// transaction, and returns what was stored with Version one higher. If fn
	// returns an error nothing is written and that error is returned.
	// Returns domain.ErrNotFound for an unknown id and domain.ErrEmailTaken
	// if fn changed the email to a taken one.
	Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error)
	// Delete removes the user. Returns domain.ErrNotFound for an unknown id.
	// A store may delete the user's sessions with it (SQL cascades); callers
	// revoke them first so that every store ends in the same state.
	Delete(ctx context.Context, id domain.UserID) error
}
