package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.UserDirectory = (*UserStore)(nil)

// List implements ports.UserDirectory with keyset pagination: WHERE id >
// after ORDER BY id LIMIT n walks the primary key from the cursor on, so a
// page costs the same at the millionth user as at the first, and rows
// inserted meanwhile (newer UUIDv7 ids) land after the page being read.
//
// Search is a case-insensitive substring match on email or name, with the
// LIKE wildcards in it escaped. On PostgreSQL it is ILIKE, backed by the
// trigram GIN indexes of migration 00002 (see QUERYPLAN.md for the plans);
// case folding beyond ASCII follows the database's locale. On SQLite it is
// LIKE, which folds ASCII letters only and scans: the embedded store is
// meant for small deployments.
func (s *UserStore) List(ctx context.Context, q ports.UserQuery) ([]domain.User, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var rows []userRow
	if err := s.listQuery(s.db.gorm.WithContext(ctx), q).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	users := make([]domain.User, len(rows))
	for i, r := range rows {
		users[i] = r.toDomain()
	}
	return users, nil
}

// listQuery builds List's statement on tx (split out so a test can EXPLAIN
// exactly what List runs).
func (s *UserStore) listQuery(tx *gorm.DB, q ports.UserQuery) *gorm.DB {
	tx = tx.Model(&userRow{})
	if q.After != "" {
		tx = tx.Where("id > ?", string(q.After))
	}
	if q.Search != "" {
		like := "LIKE"
		if s.db.dialect == DialectPostgres {
			like = "ILIKE"
		}
		pattern := "%" + escapeLike(q.Search) + "%"
		tx = tx.Where("(email "+like+" ? ESCAPE '\\' OR name "+like+" ? ESCAPE '\\')", pattern, pattern)
	}
	return tx.Order("id").Limit(q.Limit)
}

// likeEscaper makes %, _ and the escape character itself match literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }
