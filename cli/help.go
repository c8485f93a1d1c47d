package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// examples holds one example per command, by its words after the program
// name; `--help` on any command prints its usage lines and its example.
var examples = map[string]string{
	"alluxio format":              "alluxio format",
	"alluxio formatJournal":       "alluxio formatJournal",
	"alluxio formatWorker":        "alluxio formatWorker",
	"alluxio runTests":            "alluxio runTests",
	"alluxio runTest":             "alluxio runTest Basic CACHE THROUGH",
	"alluxio getConf":             "alluxio getConf --unit MB alluxio.worker.tieredstore.level0.dirs.quota",
	"alluxio validateConf":        "alluxio validateConf",
	"alluxio version":             "alluxio version",
	"alluxio process":             "alluxio process worker",
	"alluxio copyDir":             "alluxio copyDir conf",
	"alluxio logLevel":            "alluxio logLevel --target workers --level DEBUG",
	"alluxio completion":          "source <(alluxio completion bash)",
	"alluxio fs ls":               "alluxio fs ls -R --sync /data",
	"alluxio fs cat":              "alluxio fs cat /data/part-0000",
	"alluxio fs head":             "alluxio fs head -c 4KB /data/part-0000",
	"alluxio fs tail":             "alluxio fs tail -c 4KB /data/part-0000",
	"alluxio fs mkdir":            "alluxio fs mkdir /data/2026/11",
	"alluxio fs touch":            "alluxio fs touch /data/_SUCCESS",
	"alluxio fs rm":               "alluxio fs rm -R /data/tmp",
	"alluxio fs mv":               "alluxio fs mv /data/a /data/b",
	"alluxio fs stat":             "alluxio fs stat /data/part-0000",
	"alluxio fs du":               "alluxio fs du -s -h /data",
	"alluxio fs count":            "alluxio fs count /data",
	"alluxio fs checksum":         "alluxio fs checksum /data/part-0000",
	"alluxio fs chmod":            "alluxio fs chmod -R 750 /data",
	"alluxio fs chown":            "alluxio fs chown -R alice:staff /data",
	"alluxio fs chgrp":            "alluxio fs chgrp staff /data",
	"alluxio fs test":             "alluxio fs test -d /data && echo directory",
	"alluxio fs copyFromLocal":    "alluxio fs copyFromLocal ./results /data/results",
	"alluxio fs copyToLocal":      "alluxio fs copyToLocal /data/results ./results",
	"alluxio fs mount":            "alluxio fs mount --readonly --option s3a.accessKeyId=AKIA... /s3 s3://bucket/prefix/",
	"alluxio fs unmount":          "alluxio fs unmount /s3",
	"alluxio fs leader":           "alluxio fs leader",
	"alluxio fs load":             "alluxio fs load /data",
	"alluxio fs distributedLoad":  "alluxio fs distributedLoad --thread 16 /data",
	"alluxio fs free":             "alluxio fs free /data/old",
	"alluxio fs pin":              "alluxio fs pin /data/hot",
	"alluxio fs unpin":            "alluxio fs unpin /data/hot",
	"alluxio fs persist":          "alluxio fs persist /data/scratch",
	"alluxio fs location":         "alluxio fs location /data/part-0000",
	"alluxio fs setTtl":           "alluxio fs setTtl --action FREE /data/tmp 1d",
	"alluxio fs unsetTtl":         "alluxio fs unsetTtl /data/tmp",
	"alluxio fs loadMetadata":     "alluxio fs loadMetadata -R /data",
	"alluxio fs checkConsistency": "alluxio fs checkConsistency -r /data",
	"alluxio fs getCapacityBytes": "alluxio fs getCapacityBytes",
	"alluxio fs getUsedBytes":     "alluxio fs getUsedBytes",
	"alluxio fsadmin report":      "alluxio fsadmin report capacity",
	"alluxio fsadmin journal":     "alluxio fsadmin journal quorum info",
	"alluxio fsadmin ping":        "alluxio fsadmin ping -address master1:19998",
	"alluxio fsadmin metrics":     "alluxio fsadmin metrics clear",
	"alluxio-fuse mount":          "alluxio-fuse mount -o allow_other /mnt/alluxio-fuse /",
	"alluxio-fuse umount":         "alluxio-fuse umount /mnt/alluxio-fuse",
	"alluxio-fuse stat":           "alluxio-fuse stat",
	"alluxio-fuse run":            "alluxio-fuse run /mnt/alluxio-fuse",
}

// wantsHelp reports whether args ask for help: --help anywhere, or -h as
// the only argument (-h is "human sizes" for ls and du).
func wantsHelp(args []string) bool {
	return slices.Contains(args, "--help") || (len(args) == 1 && args[0] == "-h")
}

// printHelp prints the usage lines of command (its words after the
// program name, e.g. "alluxio fs ls") found in usage, and its example.
func printHelp(w io.Writer, command, usage string) {
	words := strings.Fields(command)
	verb := words[len(words)-1]
	var lines []string
	in := false
	for _, line := range strings.Split(usage, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		switch {
		case indent > 0 && indent <= 4 && (trimmed == verb || strings.HasPrefix(trimmed, verb+" ") || strings.HasPrefix(trimmed, verb+"\t")):
			in = true
			lines = append(lines, line)
		case in && indent > 4:
			lines = append(lines, line) // a continuation
		default:
			in = false
		}
	}
	fmt.Fprintf(w, "Usage of %s:\n", command)
	if len(lines) == 0 {
		fmt.Fprint(w, usage)
	} else {
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
	if ex, ok := examples[command]; ok {
		fmt.Fprintf(w, "\nExample:\n  %s\n", ex)
	}
}

// completionScript is `alluxio completion bash|zsh`: completion of the
// commands and their verbs; paths complete as local files.
func completionScript(w io.Writer, shell string) error {
	top := map[string][]string{}
	for c := range examples {
		words := strings.Fields(c)
		switch len(words) {
		case 2:
			top[words[0]] = appendNew(top[words[0]], words[1])
		case 3:
			top[words[0]] = appendNew(top[words[0]], words[1])
			top[words[0]+" "+words[1]] = appendNew(top[words[0]+" "+words[1]], words[2])
		}
	}
	for k := range top {
		sort.Strings(top[k])
	}
	switch shell {
	case "bash":
		fmt.Fprintf(w, `# bash completion for alluxio and alluxio-fuse: source <(alluxio completion bash)
_alluxio() {
  local cur=${COMP_WORDS[COMP_CWORD]} words
  case "${COMP_WORDS[0]##*/} ${COMP_WORDS[1]}" in
    "alluxio fs") [ "$COMP_CWORD" = 2 ] && words=%q ;;
    "alluxio fsadmin") [ "$COMP_CWORD" = 2 ] && words=%q ;;
  esac
  if [ "$COMP_CWORD" = 1 ]; then
    case "${COMP_WORDS[0]##*/}" in
      alluxio) words=%q ;;
      alluxio-fuse) words=%q ;;
    esac
  fi
  if [ -n "$words" ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _alluxio alluxio alluxio-fuse
`, strings.Join(top["alluxio fs"], " "), strings.Join(top["alluxio fsadmin"], " "),
			strings.Join(top["alluxio"], " "), strings.Join(top["alluxio-fuse"], " "))
	case "zsh":
		fmt.Fprintf(w, `#compdef alluxio alluxio-fuse
# zsh completion for alluxio and alluxio-fuse: source <(alluxio completion zsh)
_alluxio() {
  local -a cands
  if (( CURRENT == 2 )); then
    case $service in
      alluxio) cands=(%s) ;;
      alluxio-fuse) cands=(%s) ;;
    esac
  elif (( CURRENT == 3 )) && [[ $service == alluxio ]]; then
    case $words[2] in
      fs) cands=(%s) ;;
      fsadmin) cands=(%s) ;;
    esac
  fi
  if (( ${#cands} )); then
    compadd -a cands
  else
    _files
  fi
}
compdef _alluxio alluxio alluxio-fuse
`, strings.Join(top["alluxio"], " "), strings.Join(top["alluxio-fuse"], " "),
			strings.Join(top["alluxio fs"], " "), strings.Join(top["alluxio fsadmin"], " "))
	default:
		return usageError("usage: alluxio completion bash|zsh")
	}
	return nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// commandHelp prints the help of `alluxio VERB [SUBVERB] --help`.
func commandHelp(verb string, rest []string) error {
	sub := ""
	for _, a := range rest {
		if !strings.HasPrefix(a, "-") {
			sub = a
			break
		}
	}
	switch {
	case verb == "fs" && sub != "":
		printHelp(os.Stdout, "alluxio fs "+sub, fsUsage)
	case verb == "fs":
		fmt.Fprint(os.Stdout, fsUsage)
	case verb == "fsadmin" && sub != "":
		printHelp(os.Stdout, "alluxio fsadmin "+sub, fsadminUsage)
	case verb == "fsadmin":
		fmt.Fprint(os.Stdout, fsadminUsage)
	default:
		printHelp(os.Stdout, "alluxio "+verb, alluxioUsage)
	}
	return nil
}
