package config

// EnvNames lists every AUTH_ variable Load reads, so tests can check that
// each has a row.
func EnvNames() []string {
	var c Config
	keys := c.keys()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.env
	}
	return names
}
