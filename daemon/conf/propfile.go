package conf

import (
	"fmt"
	"strings"
	"syscall"
	"unicode/utf16"
	"unicode/utf8"
)

// propEntry is one key/value pair of a properties file, with the line on
// which it starts.
type propEntry struct {
	key, value string
	line       int
}

// parseProperties reads Java properties syntax: key=value, key: value or
// key value; '#' and '!' comment lines; a line ending in an odd number of
// backslashes continues on the next (whose leading blanks are dropped); the
// escapes \t \n \r \f \uXXXX and \<any> in keys and values. As Alluxio does,
// values are trimmed of surrounding white space. A later entry for a key
// does not remove an earlier one; the caller applies them in order.
func parseProperties(data string) ([]propEntry, error) {
	lines := splitLines(data)
	var out []propEntry
	for i := 0; i < len(lines); {
		start := i + 1
		logical := trimBlankLeft(lines[i])
		i++
		if logical == "" || logical[0] == '#' || logical[0] == '!' {
			continue
		}
		for endsInOddBackslashes(logical) {
			logical = logical[:len(logical)-1]
			if i == len(lines) {
				break
			}
			logical += trimBlankLeft(lines[i])
			i++
		}
		rawKey, rawValue := splitKeyValue(logical)
		key, err := unescapeProperty(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		value, err := unescapeProperty(rawValue)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out = append(out, propEntry{key: key, value: strings.TrimSpace(value), line: start})
	}
	return out, nil
}

// splitLines splits at \n, \r\n and \r, the line terminators of Java
// properties files.
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return lines
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimBlankLeft(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

func endsInOddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue cuts a logical line at the first unescaped '=', ':' or
// blank, and drops the separator with the blanks around it.
func splitKeyValue(s string) (key, value string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			break
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	key, rest := s[:i], trimBlankLeft(s[i:])
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimBlankLeft(rest[1:])
	}
	return key, rest
}

// unescapeProperty resolves the escapes of a properties key or value.
// \uXXXX pairs forming a UTF-16 surrogate pair become one rune; a lone
// surrogate becomes U+FFFD.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	var pendingHigh rune = -1
	flush := func() {
		if pendingHigh >= 0 {
			b.WriteRune(utf8.RuneError)
			pendingHigh = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			flush()
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			break // a lone trailing backslash is dropped, as Java does
		}
		c = s[i]
		if c != 'u' {
			flush()
			switch c {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			default:
				b.WriteByte(c)
			}
			continue
		}
		if i+5 > len(s) {
			return "", fmt.Errorf("malformed \\uxxxx escape: %w", syscall.EINVAL)
		}
		var r rune
		for _, h := range []byte(s[i+1 : i+5]) {
			d, ok := hexDigit(h)
			if !ok {
				return "", fmt.Errorf("malformed \\uxxxx escape: %w", syscall.EINVAL)
			}
			r = r<<4 | d
		}
		i += 4
		switch {
		case utf16.IsSurrogate(r) && r < 0xDC00:
			flush()
			pendingHigh = r
		case utf16.IsSurrogate(r):
			if pendingHigh >= 0 {
				b.WriteRune(utf16.DecodeRune(pendingHigh, r))
				pendingHigh = -1
			} else {
				b.WriteRune(utf8.RuneError)
			}
		default:
			flush()
			b.WriteRune(r)
		}
	}
	flush()
	return b.String(), nil
}

func hexDigit(c byte) (rune, bool) {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0'), true
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

// formatProperties writes entries in properties syntax that
// parseProperties reads back to the same keys and values.
func formatProperties(entries []propEntry) string {
	var b strings.Builder
	for _, e := range entries {
		for i := 0; i < len(e.key); i++ {
			switch c := e.key[i]; c {
			case ' ', '=', ':', '#', '!', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				writeEscapedControl(&b, c)
			}
		}
		b.WriteByte('=')
		for i := 0; i < len(e.value); i++ {
			switch c := e.value[i]; c {
			case '\\':
				b.WriteString(`\\`)
			default:
				writeEscapedControl(&b, c)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func writeEscapedControl(b *strings.Builder, c byte) {
	switch c {
	case '\t':
		b.WriteString(`\t`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\f':
		b.WriteString(`\f`)
	default:
		b.WriteByte(c)
	}
}
