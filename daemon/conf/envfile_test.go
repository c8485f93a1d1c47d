package conf

import (
	"reflect"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestParseEnvFile(t *testing.T) {
	process := envOf(map[string]string{"HOME": "/home/me", "EMPTY": ""})
	tests := []struct {
		name         string
		in           string
		want         map[string]string
		wantProblems []int // lines
	}{
		{"plain", "A=b", map[string]string{"A": "b"}, nil},
		{"export", "export A=b\n\texport   B=c", map[string]string{"A": "b", "B": "c"}, nil},
		{"single quotes", `A='x $HOME "y"'`, map[string]string{"A": `x $HOME "y"`}, nil},
		{"double quotes", `A="x $HOME \"y\" \$z"`, map[string]string{"A": `x /home/me "y" $z`}, nil},
		{"braces", `A=${HOME}/x`, map[string]string{"A": "/home/me/x"}, nil},
		{"fallback", `A=${EMPTY:-d} B=${NOPE:-e}`, map[string]string{}, []int{1}},
		{"fallback used", "A=${EMPTY:-d}\nB=${NOPE:-e}\nC=${HOME:-f}", map[string]string{"A": "d", "B": "e", "C": "/home/me"}, nil},
		{"earlier assignment", "A=1\nB=$A-2", map[string]string{"A": "1", "B": "1-2"}, nil},
		{"append", "A=x\nA+=\" y\"", map[string]string{"A": "x y"}, nil},
		{"property reference kept", `A="-Dk=${alluxio.work.dir}/x"`, map[string]string{"A": "-Dk=${alluxio.work.dir}/x"}, nil},
		{"comments", "# c\nA=b # trailing\nB=c#d", map[string]string{"A": "b", "B": "c#d"}, nil},
		{"semicolons", "A=1; B=2", map[string]string{"A": "1", "B": "2"}, nil},
		{"multi-line double quotes", "A=\"-Da=1\n -Db=2\"\nB=3", map[string]string{"A": "-Da=1\n -Db=2", "B": "3"}, nil},
		{"backslash newline", "A=a\\\nb", map[string]string{"A": "ab"}, nil},
		{"empty", "A=\nB=''", map[string]string{"A": "", "B": ""}, nil},
		{"crlf", "A=b\r\nB=c\r\n", map[string]string{"A": "b", "B": "c"}, nil},
		{"export existing", "export HOME\nA=1", map[string]string{"A": "1"}, nil},
		{"command substitution skipped", "A=$(hostname)\nB=`date`\nC=1", map[string]string{"C": "1"}, []int{1, 2}},
		{"command skipped", "if [ -z x ]; then\nA=1\nfi", map[string]string{"A": "1"}, []int{1, 3}},
		{"assignment before command", "A=1 run\nB=2", map[string]string{"B": "2"}, []int{1}},
		{"unterminated quote", "A='oops\nB=2", map[string]string{"B": "2"}, []int{1}},
		{"unterminated double quote", "A=\"oops\nB=2", map[string]string{"B": "2"}, []int{1}},
		{"line numbers after multi-line value", "A='1\n2'\n!", map[string]string{"A": "1\n2"}, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := parseEnvFile(tt.in, process)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("vars = %q, want %q", got, tt.want)
			}
			var lines []int
			for _, p := range problems {
				lines = append(lines, p.line)
			}
			if !reflect.DeepEqual(lines, tt.wantProblems) {
				t.Errorf("problem lines = %v, want %v (%+v)", lines, tt.wantProblems, problems)
			}
		})
	}
}

func TestParseEnvFileProblemsHideContent(t *testing.T) {
	_, problems := parseEnvFile("AWS_SECRET_ACCESS_KEY=$(cat /s3cr3t)", envOf(nil))
	if len(problems) != 1 {
		t.Fatalf("problems = %+v, want one", problems)
	}
	if strings.Contains(problems[0].msg, "s3cr3t") {
		t.Fatalf("problem %q quotes the line", problems[0].msg)
	}
}

func TestJavaOptsProperties(t *testing.T) {
	tests := []struct {
		in   string
		want [][2]string
	}{
		{"", nil},
		{"-Xmx2g -Da=1 -server -Db=x=y", [][2]string{{"a", "1"}, {"b", "x=y"}}},
		{`-Da="two words" -Db='q' -Dc=back\ slash`, [][2]string{{"a", "two words"}, {"b", "q"}, {"c", "back slash"}}},
		{"-Dflag -D -D=v", [][2]string{{"flag", ""}}},
		{"\n\t-Da=1\n  -Db=2\n", [][2]string{{"a", "1"}, {"b", "2"}}},
		{`-Da="unterminated`, [][2]string{{"a", "unterminated"}}},
	}
	for _, tt := range tests {
		if got := javaOptsProperties(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("javaOptsProperties(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEnvSettingsRoles(t *testing.T) {
	env := envOf(map[string]string{
		"ALLUXIO_JAVA_OPTS":        "-Dk=all",
		"ALLUXIO_MASTER_JAVA_OPTS": "-Dk=master",
		"ALLUXIO_WORKER_JAVA_OPTS": "-Dk=worker",
		"ALLUXIO_FUSE_JAVA_OPTS":   "-Dk=fuse",
	})
	last := func(role Role) string {
		v := ""
		for _, s := range envSettings(role, env) {
			if s.key == "k" {
				v = s.value
			}
		}
		return v
	}
	tests := []struct {
		role Role
		want string
	}{
		{RoleMaster, "master"},
		{RoleWorker, "worker"},
		{RoleFuse, "fuse"},
		{RoleUser, "all"},
		{RoleAny, "fuse"},
	}
	for _, tt := range tests {
		if got := last(tt.role); got != tt.want {
			t.Errorf("role %d: k = %q, want %q", tt.role, got, tt.want)
		}
	}
}
