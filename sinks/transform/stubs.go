package transform

func newTimestampConverter(c *conf, s side) (Transform, error) { return nil, c.errf("type", "todo") }
func newCast(c *conf, s side) (Transform, error)               { return nil, c.errf("type", "todo") }
