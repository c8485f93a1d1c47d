package conf

import (
	"strings"
)

// lineProblem is a part of alluxio-env.sh that was skipped. The message
// never quotes the line, which may hold a credential.
type lineProblem struct {
	line int
	msg  string
}

// parseEnvFile reads the assignments of an alluxio-env.sh without running
// it: NAME=value, export NAME=value and NAME+=value, with single quotes,
// double quotes, backslash escapes, comments, and $NAME, ${NAME} and
// ${NAME:-default} expanded from earlier assignments and then from lookup.
// ${...} whose inside is not a variable name (such as ${alluxio.work.dir})
// is kept for property expansion. Anything else (commands, command
// substitution, control flow) is skipped and reported.
func parseEnvFile(data string, lookup func(string) (string, bool)) (map[string]string, []lineProblem) {
	sc := &envScanner{s: data, line: 1, vars: map[string]string{}, lookup: lookup}
	sc.run()
	return sc.vars, sc.problems
}

type envScanner struct {
	s        string
	pos      int
	line     int
	vars     map[string]string
	lookup   func(string) (string, bool)
	problems []lineProblem
}

func (sc *envScanner) run() {
	for {
		sc.skipBlanks()
		if sc.pos >= len(sc.s) {
			return
		}
		switch sc.s[sc.pos] {
		case '\n':
			sc.pos++
			sc.line++
		case ';':
			sc.pos++
		case '#':
			sc.skipLine()
		default:
			sc.statement()
		}
	}
}

func (sc *envScanner) skipBlanks() {
	for sc.pos < len(sc.s) {
		switch sc.s[sc.pos] {
		case ' ', '\t', '\r', '\f':
			sc.pos++
		default:
			return
		}
	}
}

// skipLine moves to the end of the current line, leaving the newline.
func (sc *envScanner) skipLine() {
	if i := strings.IndexByte(sc.s[sc.pos:], '\n'); i >= 0 {
		sc.pos += i
	} else {
		sc.pos = len(sc.s)
	}
}

func (sc *envScanner) problem(line int, msg string) {
	sc.problems = append(sc.problems, lineProblem{line: line, msg: msg})
	sc.skipLine()
}

func (sc *envScanner) statement() {
	line := sc.line
	exported := false
	if rest := sc.s[sc.pos:]; strings.HasPrefix(rest, "export") && len(rest) > 6 && (rest[6] == ' ' || rest[6] == '\t') {
		exported = true
		sc.pos += 6
		sc.skipBlanks()
	}
	n := envNameLen(sc.s[sc.pos:])
	name := sc.s[sc.pos : sc.pos+n]
	sc.pos += n
	appending := false
	switch rest := sc.s[sc.pos:]; {
	case n > 0 && strings.HasPrefix(rest, "="):
		sc.pos++
	case n > 0 && strings.HasPrefix(rest, "+="):
		sc.pos += 2
		appending = true
	case exported && n > 0:
		// "export NAME" exports what is already set: nothing to record.
		sc.skipLine()
		return
	default:
		sc.problem(line, "not a NAME=value assignment; skipped")
		return
	}
	valueStart := sc.pos
	value, ok := sc.value()
	if !ok {
		// Resume on the line after the assignment's first one.
		sc.pos, sc.line = valueStart, line
		sc.problem(line, "uses command substitution or an unterminated quote, which are not supported; skipped")
		return
	}
	sc.skipBlanks()
	if sc.pos < len(sc.s) && !strings.ContainsRune("\n;#", rune(sc.s[sc.pos])) {
		sc.problem(line, "assignment followed by a command; skipped")
		return
	}
	if appending {
		old, _ := sc.get(name)
		value = old + value
	}
	sc.vars[name] = value
}

// value reads one shell word.
func (sc *envScanner) value() (string, bool) {
	var b strings.Builder
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		switch c {
		case ' ', '\t', '\r', '\f', '\n', ';':
			return b.String(), true
		case '\'':
			end := strings.IndexByte(sc.s[sc.pos+1:], '\'')
			if end < 0 {
				return "", false
			}
			lit := sc.s[sc.pos+1 : sc.pos+1+end]
			sc.line += strings.Count(lit, "\n")
			b.WriteString(lit)
			sc.pos += end + 2
		case '"':
			if !sc.doubleQuoted(&b) {
				return "", false
			}
		case '\\':
			sc.pos++
			if sc.pos < len(sc.s) {
				if sc.s[sc.pos] == '\n' {
					sc.line++
				} else {
					b.WriteByte(sc.s[sc.pos])
				}
				sc.pos++
			}
		case '$':
			if !sc.expand(&b) {
				return "", false
			}
		case '`':
			return "", false
		default:
			b.WriteByte(c)
			sc.pos++
		}
	}
	return b.String(), true
}

// doubleQuoted reads "..." starting at the opening quote.
func (sc *envScanner) doubleQuoted(b *strings.Builder) bool {
	sc.pos++
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		switch c {
		case '"':
			sc.pos++
			return true
		case '\\':
			if sc.pos+1 < len(sc.s) {
				switch next := sc.s[sc.pos+1]; next {
				case '$', '`', '"', '\\':
					b.WriteByte(next)
					sc.pos += 2
					continue
				case '\n':
					sc.line++
					sc.pos += 2
					continue
				}
			}
			b.WriteByte(c)
			sc.pos++
		case '$':
			if !sc.expand(b) {
				return false
			}
		case '`':
			return false
		default:
			if c == '\n' {
				sc.line++
			}
			b.WriteByte(c)
			sc.pos++
		}
	}
	return false
}

// expand resolves the reference starting at '$'.
func (sc *envScanner) expand(b *strings.Builder) bool {
	rest := sc.s[sc.pos+1:]
	switch {
	case strings.HasPrefix(rest, "("):
		return false
	case strings.HasPrefix(rest, "{"):
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			b.WriteByte('$')
			sc.pos++
			return true
		}
		inner := rest[1:end]
		sc.line += strings.Count(inner, "\n")
		sc.pos += end + 2
		name, fallback, hasFallback := strings.Cut(inner, ":-")
		if name == "" || envNameLen(name) != len(name) {
			b.WriteString("${" + inner + "}")
			return true
		}
		v, ok := sc.get(name)
		if (!ok || v == "") && hasFallback {
			v = fallback
		}
		b.WriteString(v)
	default:
		n := envNameLen(rest)
		if n == 0 {
			b.WriteByte('$')
			sc.pos++
			return true
		}
		v, _ := sc.get(rest[:n])
		b.WriteString(v)
		sc.pos += 1 + n
	}
	return true
}

func (sc *envScanner) get(name string) (string, bool) {
	if v, ok := sc.vars[name]; ok {
		return v, true
	}
	return sc.lookup(name)
}

// envNameLen is the length of the shell variable name at the start of s.
func envNameLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return i
		}
	}
	return len(s)
}

// splitWords splits JAVA_OPTS-style text at blanks, honouring single and
// double quotes and backslash escapes, so -Dk="a b" is one word.
func splitWords(s string) []string {
	var words []string
	var b strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				end = len(s) - i - 1
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				b.WriteByte(s[i])
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			b.WriteByte(s[i])
		default:
			inWord = true
			b.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words
}

// javaOptsProperties returns the key/value pairs of the -Dkey=value words
// of a JAVA_OPTS variable, in order. -Dkey alone sets key to "".
func javaOptsProperties(s string) [][2]string {
	var out [][2]string
	for _, w := range splitWords(s) {
		rest, ok := strings.CutPrefix(w, "-D")
		if !ok {
			continue
		}
		key, value, _ := strings.Cut(rest, "=")
		if key = strings.TrimSpace(key); key != "" {
			out = append(out, [2]string{key, value})
		}
	}
	return out
}

// Role selects which per-process JAVA_OPTS variable applies besides
// ALLUXIO_JAVA_OPTS.
type Role int

// The roles of a process.
const (
	RoleAny    Role = iota // every ALLUXIO_*_JAVA_OPTS, in the order master, worker, fuse, user
	RoleMaster             // ALLUXIO_MASTER_JAVA_OPTS
	RoleWorker             // ALLUXIO_WORKER_JAVA_OPTS
	RoleFuse               // ALLUXIO_FUSE_JAVA_OPTS
	RoleUser               // ALLUXIO_USER_JAVA_OPTS (command-line clients)
)

func javaOptsVars(role Role) []string {
	vars := []string{"ALLUXIO_JAVA_OPTS"}
	switch role {
	case RoleMaster:
		return append(vars, "ALLUXIO_MASTER_JAVA_OPTS")
	case RoleWorker:
		return append(vars, "ALLUXIO_WORKER_JAVA_OPTS")
	case RoleFuse:
		return append(vars, "ALLUXIO_FUSE_JAVA_OPTS")
	case RoleUser:
		return append(vars, "ALLUXIO_USER_JAVA_OPTS")
	}
	return append(vars, "ALLUXIO_MASTER_JAVA_OPTS", "ALLUXIO_WORKER_JAVA_OPTS", "ALLUXIO_FUSE_JAVA_OPTS", "ALLUXIO_USER_JAVA_OPTS")
}

// envVarProperties maps the Alluxio 1.x variables to the properties they
// set, in increasing precedence (so ALLUXIO_MASTER_HOSTNAME beats the older
// ALLUXIO_MASTER_ADDRESS).
var envVarProperties = []struct {
	name string
	keys []string
}{
	{"ALLUXIO_MASTER_ADDRESS", []string{"alluxio.master.hostname"}},
	{"ALLUXIO_MASTER_HOSTNAME", []string{"alluxio.master.hostname"}},
	{"ALLUXIO_UNDERFS_ADDRESS", []string{"alluxio.master.mount.table.root.ufs"}},
	{"ALLUXIO_RAM_FOLDER", []string{"alluxio.worker.tieredstore.level0.dirs.path"}},
	{"ALLUXIO_WORKER_MEMORY_SIZE", []string{"alluxio.worker.ramdisk.size", "alluxio.worker.tieredstore.level0.dirs.quota"}},
}

// envSetting is one property set from a variable.
type envSetting struct {
	key, value, variable string
}

// envSettings lists the properties that the variables seen through get
// set, lowest precedence first: the -D pairs of the JAVA_OPTS variables,
// then the named variables (as Alluxio 1.x appended those after the user's
// JAVA_OPTS). Empty named variables are treated as unset.
func envSettings(role Role, get func(string) (string, bool)) []envSetting {
	var out []envSetting
	for _, v := range javaOptsVars(role) {
		opts, ok := get(v)
		if !ok {
			continue
		}
		for _, kv := range javaOptsProperties(opts) {
			out = append(out, envSetting{key: kv[0], value: kv[1], variable: v})
		}
	}
	for _, m := range envVarProperties {
		value, ok := get(m.name)
		if !ok || value == "" {
			continue
		}
		for _, k := range m.keys {
			out = append(out, envSetting{key: k, value: value, variable: m.name})
		}
	}
	return out
}
