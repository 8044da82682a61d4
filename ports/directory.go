package ports

import (
	"context"

	"github.com/authd/authd/domain"
)

// UserDirectory lists users for administrators.
type UserDirectory interface {
	// List returns up to q.Limit users with id greater than q.After, in
	// ascending id order, keeping only those whose email or name contains
	// q.Search (case-insensitively) when it is set. Ids are time-ordered
	// (UUIDv7), so users created while an administrator pages through the
	// list land after the page being read and every user that existed at
	// the start is seen exactly once.
	List(ctx context.Context, q UserQuery) ([]domain.User, error)
}

// UserQuery selects one page of users.
type UserQuery struct {
	After  domain.UserID
	Limit  int
	Search string
}
