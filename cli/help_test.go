package cli

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestEveryCommandHasHelp: --help on every command with an example finds
// its own usage lines (not the whole usage text) and prints the example.
func TestEveryCommandHasHelp(t *testing.T) {
	usages := map[string]string{"alluxio": alluxioUsage, "alluxio fs": fsUsage, "alluxio fsadmin": fsadminUsage, "alluxio-fuse": fuseUsage}
	for command, example := range examples {
		t.Run(command, func(t *testing.T) {
			words := strings.Fields(command)
			usage := usages[strings.Join(words[:len(words)-1], " ")]
			if usage == "" {
				t.Fatalf("no usage text for %q", command)
			}
			var b bytes.Buffer
			printHelp(&b, command, usage)
			out := b.String()
			if !strings.Contains(out, "  "+words[len(words)-1]) || strings.Count(out, "\n") > 12 {
				t.Fatalf("help of %s does not show its own usage lines:\n%s", command, out)
			}
			if !strings.Contains(out, "Example:\n  "+example) {
				t.Fatalf("help of %s has no example:\n%s", command, out)
			}
		})
	}
}

// TestCompletionScripts: the scripts name every verb and parse in their
// shells (zsh only where installed).
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		var b bytes.Buffer
		if err := completionScript(&b, shell); err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"distributedLoad", "fsadmin", "loadMetadata", "umount"} {
			if !strings.Contains(b.String(), verb) {
				t.Errorf("%s completion lacks %s", shell, verb)
			}
		}
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s not installed: syntax not checked", shell)
			continue
		}
		cmd := exec.Command(shell, "-n")
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
	if err := completionScript(&bytes.Buffer{}, "fish"); err == nil {
		t.Error("completion for an unknown shell succeeded")
	}
}
