package memory

import (
	"context"
	"slices"
	"strings"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.UserDirectory = (*UserStore)(nil)

// List implements ports.UserDirectory by sorting and scanning every user,
// which suits a fake and the small embedded case. Case is folded with Go's
// Unicode rules, so this store finds at least what the SQL ones find.
func (s *UserStore) List(_ context.Context, q ports.UserQuery) ([]domain.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]domain.UserID, 0, len(s.byID))
	for id := range s.byID {
		if id > q.After {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	search := strings.ToLower(q.Search)
	var out []domain.User
	for _, id := range ids {
		if len(out) >= q.Limit {
			break
		}
		u := s.byID[id]
		if search != "" && !strings.Contains(strings.ToLower(u.Name), search) &&
			!strings.Contains(strings.ToLower(string(u.Email)), search) {
			continue
		}
		out = append(out, cloneUser(u))
	}
	return out, nil
}
