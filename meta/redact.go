package meta

import (
	"errors"
	"net/url"
	"strings"
	"syscall"

	"github.com/alluxio-go/alluxio/ufs"
)

// minSecret is the length under which a credential is not looked for in
// an error's text: no real key is that short, and hiding every "a" or
// "ab" would mangle the message (the path and the option that went
// wrong) and still show which letters the secret holds.
const minSecret = 4

// scrubError returns err, or when its text contains a credential from the
// URI's user information or from a secret option, an error with the same
// errno whose text has them replaced. The replacement keeps errors.Is
// working for the errno class and drops the rest of the chain, which would
// still print the secret.
func scrubError(err error, uri string, opts map[string]string) error {
	if err == nil {
		return nil
	}
	var secrets []string
	if pw, ok := ufs.Password(uri); ok {
		secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
	}
	for k, v := range opts {
		if ufs.IsSecretOption(k) {
			secrets = append(secrets, v)
		}
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if len(s) >= minSecret {
			clean = replaceWord(clean, s, "xxxxx")
		}
	}
	if clean == msg {
		return err
	}
	se := &scrubbedError{msg: clean, errno: syscall.EIO}
	errors.As(err, &se.errno)
	return se
}

// replaceWord replaces s in text where it is not part of a longer word:
// where s begins (ends) with a letter or digit, the byte before (after) it
// must not be one.
func replaceWord(text, s, with string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, s)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		end := i + len(s)
		if wordByte(s[0]) && i > 0 && wordByte(text[i-1]) ||
			wordByte(s[len(s)-1]) && end < len(text) && wordByte(text[end]) {
			b.WriteString(text[:i+1])
			text = text[i+1:]
			continue
		}
		b.WriteString(text[:i])
		b.WriteString(with)
		text = text[end:]
	}
}

func wordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// scrubbedError is an error whose text had credentials removed; it keeps
// only the errno of the original chain.
type scrubbedError struct {
	msg   string
	errno syscall.Errno
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.errno }
