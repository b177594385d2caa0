package errcode

// Codes of the PostgreSQL historian backend (5150–5199).
const (
	PGDSN           Code = 5150
	PGConnect       Code = 5151
	PGSchema        Code = 5152
	PGSchemaVersion Code = 5153
	PGWrite         Code = 5154
	PGQuery         Code = 5155
	PGValue         Code = 5156
	PGGlob          Code = 5157
	PGClosed        Code = 5158
)

func init() {
	register(
		Entry{Code: PGDSN, Name: "historian.pg.dsn", Title: "the PostgreSQL connection string cannot be parsed",
			Causes: []string{"a typo in historian.dsn", "a password with characters that need URL escaping"},
			Checks: []string{"the dsn in the config: postgres://user:password@host:5432/db?sslmode=require or key=value form"},
			Fix:    "correct the dsn; percent-encode special characters of the password in the URL form"},
		Entry{Code: PGConnect, Name: "historian.pg.connect", Title: "cannot connect to PostgreSQL",
			Causes: []string{"the server is down or unreachable", "wrong host, port, user, password or database", "pg_hba.conf does not allow this client", "TLS required by one side and not offered by the other"},
			Checks: []string{"`pg_isready -h HOST -p PORT` from the otlink machine", "the server's log for a rejected connection", "the sslmode of the dsn"},
			Fix:    "start the server or fix the dsn; otlink retries writes, and the bus keeps samples until they are stored"},
		Entry{Code: PGSchema, Name: "historian.pg.schema", Title: "creating or migrating the historian schema in PostgreSQL failed",
			Causes: []string{"the user may not create schemas, tables or functions in the database", "a table of the same name created by something else"},
			Checks: []string{"the user's privileges: it needs CREATE on the database", "the server's log for the failing statement"},
			Fix:    "grant CREATE on the database to the user (or create the schema for it), then restart otlink"},
		Entry{Code: PGSchemaVersion, Name: "historian.pg.schema_version", Title: "the historian schema in PostgreSQL is newer than this otlink",
			Causes: []string{"a newer otlink migrated the database", "two otlink versions share one database"},
			Checks: []string{"select max(version) from <schema>.schema_version", "`otlink version` on every node that writes"},
			Fix:    "upgrade this otlink to the version that migrated the database, or point it at another schema"},
		Entry{Code: PGWrite, Name: "historian.pg.write", Title: "storing samples in PostgreSQL failed; nothing of the batch was stored",
			Causes: []string{"the connection broke", "the disk of the server is full", "the server is read-only (a standby)"},
			Checks: []string{"the server's log", "free space of the server's data directory", "select pg_is_in_recovery()"},
			Fix:    "fix the server; the batch is written again on redelivery and stored once"},
		Entry{Code: PGQuery, Name: "historian.pg.query", Title: "reading samples from PostgreSQL failed",
			Causes: []string{"the connection broke", "the query was cancelled or timed out", "a table was dropped or altered by hand"},
			Checks: []string{"the server's log", "statement_timeout of the user"},
			Fix:    "retry when the server is reachable; restore dropped tables from a backup"},
		Entry{Code: PGValue, Name: "historian.pg.value", Title: "a sample cannot be stored in PostgreSQL as it is",
			Causes: []string{"an empty tag path", "a string value or tag path with a NUL byte or invalid UTF-8, which PostgreSQL text cannot hold"},
			Checks: []string{"the device's string tags: fixed-length strings padded with NUL bytes"},
			Fix:    "trim NUL padding in the tag's string settings; the rest of the batch is not stored until the sample is fixed or dropped"},
		Entry{Code: PGGlob, Name: "historian.pg.glob", Title: "a tag pattern is malformed",
			Causes: []string{"an unclosed [ in the pattern", "a trailing backslash"},
			Checks: []string{"the pattern: path.Match syntax, * and ? do not cross /"},
			Fix:    "close the character class or escape the character with \\"},
		Entry{Code: PGClosed, Name: "historian.pg.closed", Title: "the PostgreSQL historian is closed",
			Causes: []string{"a call after Close, during shutdown"},
			Checks: []string{"the order of shutdown of the parts"},
			Fix:    "nothing to do during shutdown; otherwise report it as a bug"},
	)
}
