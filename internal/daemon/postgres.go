package daemon

import "fmt"

// newPostgres builds the Postgres source.
func newPostgres(cfg SourceConfig, p SourceParams) (Source, error) {
	return nil, fmt.Errorf("connector postgres: %w", ErrConnectorUnavailable)
}
