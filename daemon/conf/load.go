package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Source tells which layer of configuration set a value. Later sources
// override earlier ones.
type Source int

// The configuration sources, lowest precedence first.
const (
	Default     Source = iota // the embedded table
	EnvFile                   // alluxio-env.sh in the conf dir
	SiteFile                  // alluxio-site.properties in the conf dir
	Environment               // the process environment
	Flag                      // the command line
)

// String names the source for messages.
func (s Source) String() string {
	switch s {
	case Default:
		return "default"
	case EnvFile:
		return "alluxio-env.sh"
	case SiteFile:
		return "alluxio-site.properties"
	case Environment:
		return "environment"
	case Flag:
		return "flag"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// File names looked for in the conf dir.
const (
	EnvFileName  = "alluxio-env.sh"
	SiteFileName = "alluxio-site.properties"
)

// origin is where one value came from.
type origin struct {
	src Source
	// file is the path of an EnvFile or SiteFile.
	file string
	// variable is the environment variable of an EnvFile or Environment
	// setting.
	variable string
}

// String describes the origin as error messages show it: a file path,
// "environment ALLUXIO_JAVA_OPTS", "flag".
func (o origin) String() string {
	switch o.src {
	case EnvFile:
		return o.file + " variable " + o.variable
	case SiteFile:
		return o.file
	case Environment:
		return "environment " + o.variable
	}
	return o.src.String()
}

// setting is a raw value and its origin.
type setting struct {
	value string
	from  origin
}

// LoadOptions tell Load where to look.
type LoadOptions struct {
	// Home is used as ALLUXIO_HOME when the environment lacks it, typically
	// the parent of the binary's directory. Empty means FallbackHome.
	Home string
	// Env looks up a process environment variable; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// Flags are the -Dkey=value / --conf key=value pairs of the command
	// line; they override everything else.
	Flags map[string]string
	// Role selects which ALLUXIO_<ROLE>_JAVA_OPTS variable applies besides
	// ALLUXIO_JAVA_OPTS; RoleAny applies all of them.
	Role Role
}

// errInvalid is the error class of a bad configuration.
var errInvalid = syscall.EINVAL

// PropertyError reports a property whose value cannot be used. Its
// message names the key, the value (masked when it is a credential), where
// the value came from and what was wanted. It unwraps to syscall.EINVAL, or
// to a parse error wrapping EINVAL or ERANGE.
type PropertyError struct {
	Key    string
	Value  string // as shown: Mask for credentials
	From   string // a file path, "environment ALLUXIO_JAVA_OPTS", "flag", "default"
	Reason string // what is wrong or what was wanted
	Err    error
}

// Error formats the problem as
// `key: invalid value "v" (from source): reason`.
func (e *PropertyError) Error() string {
	return fmt.Sprintf("%s: invalid value %q (from %s): %s", e.Key, e.Value, e.From, e.Reason)
}

// Unwrap returns the error class.
func (e *PropertyError) Unwrap() error { return e.Err }

// shown is how a value may appear in a message.
func shown(key, value string, derivedFromSecret bool) string {
	if derivedFromSecret || IsSecret(key) {
		return Mask
	}
	return value
}

// loader accumulates the layers.
type loader struct {
	raw      map[string]setting
	warnings []string
}

func (l *loader) warn(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

// set records one value, warning about keys that look like typos.
func (l *loader) set(name, value string, from origin) {
	key := canonicalKey(name)
	if key == "" {
		l.warn("empty property name ignored (from %s)", from)
		return
	}
	// The conf dir is needed before the files are read, so only the two
	// places Load looks at first may set it.
	if key == "alluxio.conf.dir" && from.src != Flag && from.variable != "ALLUXIO_CONF_DIR" {
		l.warn("%s: ignored here, the conf dir must be known before any file is read; set ALLUXIO_CONF_DIR or pass a flag (from %s)", key, from)
		return
	}
	if !isKnown(key) && isChecked(key) {
		msg := fmt.Sprintf("%s: unknown property (from %s)", key, from)
		if s := suggest(key); s != "" {
			msg += "; did you mean " + s + "?"
		}
		l.warnings = append(l.warnings, msg)
	}
	l.raw[key] = setting{value: value, from: from}
}

// setFromEnv applies the variables seen through get as one layer.
func (l *loader) setFromEnv(role Role, get func(string) (string, bool), from origin) {
	for _, s := range envSettings(role, get) {
		o := from
		o.variable = s.variable
		if s.variable == "ALLUXIO_MASTER_ADDRESS" {
			l.warn("ALLUXIO_MASTER_ADDRESS is deprecated; use ALLUXIO_MASTER_HOSTNAME (from %s)", o)
		}
		l.set(s.key, s.value, o)
	}
}

// Load builds the configuration from, lowest precedence first: the
// embedded defaults, alluxio-env.sh and alluxio-site.properties in the conf
// dir, the process environment, and opts.Flags. It expands ${key}
// references and validates every known property. Unknown keys in Alluxio's
// namespaces produce warnings (see Config.Warnings); a malformed value, a
// reference cycle, or inconsistent tiers fail with *PropertyError values
// joined into one error. Missing files are fine; an unreadable one fails.
//
// The conf dir is the flag alluxio.conf.dir, else ALLUXIO_CONF_DIR, else
// <home>/conf, where home is the flag alluxio.home, else ALLUXIO_HOME,
// else opts.Home, else FallbackHome.
func Load(opts LoadOptions) (*Config, error) {
	get := opts.Env
	if get == nil {
		get = os.LookupEnv
	}
	home, confDir := locate(opts, get)

	l := &loader{raw: map[string]setting{}}
	for _, p := range table {
		if p.HasDefault {
			l.raw[p.Key] = setting{value: p.Default, from: origin{src: Default}}
		}
	}
	l.raw["alluxio.home"] = setting{value: home, from: origin{src: Default}}
	l.raw["alluxio.conf.dir"] = setting{value: confDir, from: origin{src: Default}}

	envPath := filepath.Join(confDir, EnvFileName)
	data, err := readOptional(envPath)
	if err != nil {
		return nil, err
	}
	envVars, problems := parseEnvFile(data, get)
	for _, p := range problems {
		l.warn("%s:%d: %s", envPath, p.line, p.msg)
	}
	l.setFromEnv(opts.Role, func(name string) (string, bool) {
		v, ok := envVars[name]
		return v, ok
	}, origin{src: EnvFile, file: envPath})

	sitePath := filepath.Join(confDir, SiteFileName)
	if data, err = readOptional(sitePath); err != nil {
		return nil, err
	}
	entries, err := parseProperties(data)
	if err != nil {
		return nil, fmt.Errorf("conf: %s: %w", sitePath, err)
	}
	for _, e := range entries {
		l.set(e.key, e.value, origin{src: SiteFile, file: sitePath})
	}

	for _, v := range []struct{ name, key string }{
		{"ALLUXIO_HOME", "alluxio.home"},
		{"ALLUXIO_CONF_DIR", "alluxio.conf.dir"},
	} {
		if value, ok := get(v.name); ok && value != "" {
			l.set(v.key, value, origin{src: Environment, variable: v.name})
		}
	}
	l.setFromEnv(opts.Role, get, origin{src: Environment})

	flagKeys := make([]string, 0, len(opts.Flags))
	for k := range opts.Flags {
		flagKeys = append(flagKeys, k)
	}
	sort.Strings(flagKeys)
	for _, k := range flagKeys {
		l.set(k, opts.Flags[k], origin{src: Flag})
	}

	c, errs := l.build()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.envFile = envVars
	c.lookupEnv = get
	return c, nil
}

// locate finds alluxio.home and the conf dir.
func locate(opts LoadOptions, get func(string) (string, bool)) (home, confDir string) {
	first := func(candidates ...func() (string, bool)) string {
		for _, f := range candidates {
			if v, ok := f(); ok && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	flag := func(key string) func() (string, bool) {
		return func() (string, bool) { v, ok := opts.Flags[key]; return v, ok }
	}
	env := func(name string) func() (string, bool) {
		return func() (string, bool) { return get(name) }
	}
	home = first(flag("alluxio.home"), env("ALLUXIO_HOME"),
		func() (string, bool) { return opts.Home, true },
		func() (string, bool) { return FallbackHome, true })
	confDir = first(flag("alluxio.conf.dir"), env("ALLUXIO_CONF_DIR"),
		func() (string, bool) { return filepath.Join(home, "conf"), true })
	return home, confDir
}

// readOptional returns the file's content, or "" when it does not exist.
func readOptional(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("conf: %w", err)
	}
	return string(data), nil
}

// build expands and validates the accumulated settings.
func (l *loader) build() (*Config, []error) {
	exp, expErrs := expandAll(l.raw)
	c := &Config{
		values:   make(map[string]string, len(l.raw)),
		secret:   make(map[string]bool),
		origins:  make(map[string]origin, len(l.raw)),
		typed:    make(map[string]any, len(table)),
		warnings: l.warnings,
	}
	for k, s := range l.raw {
		c.origins[k] = s.from
		c.values[k] = exp[k].value
		if exp[k].secret {
			c.secret[k] = true
		}
	}

	// The tier count decides which level keys matter, so it goes first.
	levels := tierLevels
	var errs []error
	const levelsKey = "alluxio.worker.tieredstore.levels"
	if v, ok := exp[levelsKey]; ok {
		if n, _, err := byKey[levelsKey].parse(v.value); err == nil {
			levels = n.(int)
		}
	}
	ignored := func(key string) bool {
		n, _, ok := tierKey(key)
		return ok && n >= levels
	}

	for _, e := range expErrs {
		if ignored(e.Key) {
			c.warnings = append(c.warnings, fmt.Sprintf("%s; ignored as %s is %d", e, levelsKey, levels))
			continue
		}
		errs = append(errs, e)
	}
	for _, key := range sortedKeys(l.raw) {
		p, known := byKey[key]
		v, expandedOK := exp[key]
		if !known || !expandedOK {
			continue
		}
		typed, canon, err := p.parse(v.value)
		if err != nil {
			perr := &PropertyError{
				Key:    key,
				Value:  shown(key, v.value, v.secret),
				From:   l.raw[key].from.String(),
				Reason: p.want(),
				Err:    err,
			}
			if !ignored(key) {
				errs = append(errs, perr)
				continue
			}
			// Typed getters read the zero value of an ignored level.
			c.warnings = append(c.warnings, fmt.Sprintf("%s; ignored as %s is %d", perr, levelsKey, levels))
			continue
		}
		c.values[key] = canon
		c.typed[key] = typed
	}
	if len(errs) > 0 {
		return nil, errs
	}
	tiers, errs := c.buildTiers(levels)
	if len(errs) > 0 {
		return nil, errs
	}
	c.tiers = tiers
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
