package sqlstore

import (
	"gorm.io/gorm"

	"github.com/authd/authd/ports"
)

// ListSQL returns the statement and arguments List runs for q, without
// running it, so a test can EXPLAIN it.
func (s *UserStore) ListSQL(q ports.UserQuery) (string, []any) {
	var rows []userRow
	stmt := s.listQuery(s.db.gorm.Session(&gorm.Session{DryRun: true}), q).Find(&rows).Statement
	return stmt.SQL.String(), stmt.Vars
}
