package conf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeConf makes a conf dir holding files (name -> content).
func writeConf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// layers describes one Load: the conf files, the process environment and
// the flags. The conf dir is passed through ALLUXIO_CONF_DIR.
type layers struct {
	envFile, siteFile string
	env               map[string]string
	flags             map[string]string
	role              Role
}

func (l layers) load(t *testing.T) (*Config, string, error) {
	t.Helper()
	files := map[string]string{}
	if l.envFile != "" {
		files[EnvFileName] = l.envFile
	}
	if l.siteFile != "" {
		files[SiteFileName] = l.siteFile
	}
	dir := writeConf(t, files)
	env := map[string]string{"ALLUXIO_CONF_DIR": dir, "ALLUXIO_HOME": "/srv/alluxio"}
	for k, v := range l.env {
		env[k] = v
	}
	c, err := Load(LoadOptions{Env: envOf(env), Flags: l.flags, Role: l.role})
	return c, dir, err
}

func mustLoad(t *testing.T, l layers) (*Config, string) {
	t.Helper()
	c, dir, err := l.load(t)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, dir
}

func TestLoadDefaultsWithoutFiles(t *testing.T) {
	home := t.TempDir()
	c, err := Load(LoadOptions{Home: home, Env: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings = %q, want none", w)
	}
	strs := []struct{ key, want string }{
		{"alluxio.home", home},
		{"alluxio.work.dir", home},
		{"alluxio.conf.dir", filepath.Join(home, "conf")},
		{"alluxio.logs.dir", home + "/logs"},
		{"alluxio.master.journal.folder", home + "/journal"},
		{"alluxio.master.metastore.dir", home + "/metastore"},
		{"alluxio.master.mount.table.root.ufs", home + "/underFSStorage"},
		{"alluxio.worker.data.server.domain.socket.address", home + "/run/worker.sock"},
		{"alluxio.master.journal.type", "EMBEDDED"},
		{"alluxio.user.file.readtype.default", "CACHE"},
		{"alluxio.user.file.writetype.default", "CACHE_THROUGH"},
		{"alluxio.log.level", "INFO"},
		{"alluxio.logger.type", "INFO"},
		{"alluxio.fuse.mount.point", "/mnt/alluxio-fuse"},
		{"alluxio.master.embedded.journal.addresses", ""},
	}
	for _, s := range strs {
		if got := c.String(s.key); got != s.want {
			t.Errorf("%s = %q, want %q", s.key, got, s.want)
		}
		if src, where := c.Source(s.key); src != Default || where != "" {
			t.Errorf("Source(%s) = %v %q, want default", s.key, src, where)
		}
	}
	if got := c.Int("alluxio.master.rpc.port"); got != 19998 {
		t.Errorf("master rpc port = %d", got)
	}
	if got := c.Int("alluxio.security.authorization.permission.umask"); got != 0o22 {
		t.Errorf("umask = %o", got)
	}
	if got := c.Bytes("alluxio.worker.page.store.page.size"); got != 1<<20 {
		t.Errorf("page size = %d", got)
	}
	if got := c.Bytes("alluxio.user.block.size.bytes.default"); got != 64<<20 {
		t.Errorf("block size = %d", got)
	}
	if got := c.Duration("alluxio.user.file.metadata.sync.interval"); got >= 0 {
		t.Errorf("sync interval = %v, want negative (never)", got)
	}
	if got := c.Duration("alluxio.user.rpc.retry.max.duration"); got != 2*time.Minute {
		t.Errorf("retry duration = %v", got)
	}
	if !c.Bool("alluxio.fuse.passthrough.enabled") || c.Bool("alluxio.fuse.debug.enabled") {
		t.Errorf("fuse bools wrong")
	}
	if got := c.Strings("alluxio.fuse.mount.options"); !reflect.DeepEqual(got, []string{"allow_other"}) {
		t.Errorf("mount options = %q", got)
	}
	if got := c.MasterRPCAddr(); got != "localhost:19998" {
		t.Errorf("MasterRPCAddr = %q", got)
	}
	if got := c.MasterRPCAddrs(); !reflect.DeepEqual(got, []string{"localhost:19998"}) {
		t.Errorf("MasterRPCAddrs = %q", got)
	}
	if got := c.JournalAddrs(); !reflect.DeepEqual(got, []string{"localhost:19200"}) {
		t.Errorf("JournalAddrs = %q", got)
	}
	if got := c.WorkerRPCAddr(); got != "localhost:29999" {
		t.Errorf("WorkerRPCAddr = %q", got)
	}
	want := []Tier{{Level: 0, Alias: "MEM", Dirs: []string{"/dev/shm"}, Quotas: []int64{2 << 30}, MediumTypes: []string{"MEM"}, High: 0.95, Low: 0.7}}
	if got := c.Tiers(); !reflect.DeepEqual(got, want) {
		t.Errorf("Tiers = %+v, want %+v", got, want)
	}
	if _, ok := c.Lookup("alluxio.worker.tieredstore.level1.dirs.path"); ok {
		t.Errorf("level1.dirs.path is set without a default")
	}
}

func TestLoadHome(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name     string
		opts     LoadOptions
		wantHome string
		wantConf string
	}{
		{"fallback", LoadOptions{Env: envOf(map[string]string{"ALLUXIO_CONF_DIR": empty})}, FallbackHome, empty},
		{"caller", LoadOptions{Home: "/bin/..", Env: envOf(map[string]string{"ALLUXIO_CONF_DIR": empty})}, "/bin/..", empty},
		{"environment beats caller", LoadOptions{Home: "/caller", Env: envOf(map[string]string{"ALLUXIO_HOME": empty})}, empty, filepath.Join(empty, "conf")},
		{"flags", LoadOptions{Home: "/caller", Env: envOf(map[string]string{"ALLUXIO_HOME": "/env", "ALLUXIO_CONF_DIR": "/env/conf"}),
			Flags: map[string]string{"alluxio.home": empty, "alluxio.conf.dir": empty}}, empty, empty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Get("alluxio.home"); got != tt.wantHome {
				t.Errorf("alluxio.home = %q, want %q", got, tt.wantHome)
			}
			if got := c.Get("alluxio.conf.dir"); got != tt.wantConf {
				t.Errorf("alluxio.conf.dir = %q, want %q", got, tt.wantConf)
			}
		})
	}
}

func TestLoadFindsConfDirByFlag(t *testing.T) {
	dir := writeConf(t, map[string]string{SiteFileName: "alluxio.master.hostname=fromflagdir"})
	c, err := Load(LoadOptions{Env: envOf(nil), Flags: map[string]string{"alluxio.conf.dir": dir}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Get("alluxio.master.hostname"); got != "fromflagdir" {
		t.Fatalf("hostname = %q", got)
	}
}

func TestPrecedence(t *testing.T) {
	const (
		envFile  = "ALLUXIO_MASTER_HOSTNAME=envfile\nALLUXIO_JAVA_OPTS=\"-Dalluxio.user.file.readtype.default=NO_CACHE\"\n"
		siteFile = "alluxio.master.hostname=site\nalluxio.user.file.readtype.default=CACHE_PROMOTE\n"
	)
	env := map[string]string{
		"ALLUXIO_MASTER_HOSTNAME": "env",
		"ALLUXIO_JAVA_OPTS":       "-Dalluxio.user.file.readtype.default=no_cache",
	}
	flags := map[string]string{
		"alluxio.master.hostname":            "flag",
		"alluxio.user.file.readtype.default": "cache",
	}
	tests := []struct {
		name       string
		l          layers
		wantHost   string
		wantRead   string
		wantSource Source
	}{
		{"defaults", layers{}, "localhost", "CACHE", Default},
		{"env file beats defaults", layers{envFile: envFile}, "envfile", "NO_CACHE", EnvFile},
		{"site file beats env file", layers{envFile: envFile, siteFile: siteFile}, "site", "CACHE_PROMOTE", SiteFile},
		{"environment beats site file", layers{envFile: envFile, siteFile: siteFile, env: env}, "env", "NO_CACHE", Environment},
		{"flags beat everything", layers{envFile: envFile, siteFile: siteFile, env: env, flags: flags}, "flag", "CACHE", Flag},
		{"flags alone", layers{flags: flags}, "flag", "CACHE", Flag},
		{"environment alone", layers{env: env}, "env", "NO_CACHE", Environment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir := mustLoad(t, tt.l)
			if got := c.Get("alluxio.master.hostname"); got != tt.wantHost {
				t.Errorf("hostname = %q, want %q", got, tt.wantHost)
			}
			if got := c.Get("alluxio.user.file.readtype.default"); got != tt.wantRead {
				t.Errorf("readtype = %q, want %q", got, tt.wantRead)
			}
			src, where := c.Source("alluxio.master.hostname")
			if src != tt.wantSource {
				t.Errorf("Source = %v, want %v", src, tt.wantSource)
			}
			wantWhere := map[Source]string{
				EnvFile:     filepath.Join(dir, EnvFileName),
				SiteFile:    filepath.Join(dir, SiteFileName),
				Environment: "ALLUXIO_MASTER_HOSTNAME",
			}[tt.wantSource]
			if where != wantWhere {
				t.Errorf("Source where = %q, want %q", where, wantWhere)
			}
		})
	}
}

func TestEnvFileVariables(t *testing.T) {
	c, dir := mustLoad(t, layers{
		envFile: `# Alluxio 1.x style
export ALLUXIO_UNDERFS_ADDRESS=/tmp
ALLUXIO_RAM_FOLDER="/mnt/ramdisk,/mnt/ramdisk2"
ALLUXIO_WORKER_MEMORY_SIZE=4GB
ALLUXIO_MASTER_ADDRESS=old-master
ALLUXIO_LOGS_DIR='/var/log/alluxio'
ALLUXIO_JAVA_OPTS="-Xmx4g -Dalluxio.master.mount.table.root.option.s3a.region=us-east-1"
ALLUXIO_WORKER_JAVA_OPTS="$ALLUXIO_JAVA_OPTS -Dalluxio.worker.hostname=w1"
`,
		env: map[string]string{"ALLUXIO_LOGS_DIR": "/override/logs"},
	})
	envPath := filepath.Join(dir, EnvFileName)
	if got := c.Get("alluxio.master.mount.table.root.ufs"); got != "/tmp" {
		t.Errorf("root ufs = %q, want /tmp", got)
	}
	if src, where := c.Source("alluxio.master.mount.table.root.ufs"); src != EnvFile || where != envPath {
		t.Errorf("root ufs source = %v %q", src, where)
	}
	if got := c.Get("alluxio.master.hostname"); got != "old-master" {
		t.Errorf("hostname = %q", got)
	}
	if got := c.Get("alluxio.worker.hostname"); got != "w1" {
		t.Errorf("worker hostname = %q", got)
	}
	if got := c.Bytes("alluxio.worker.ramdisk.size"); got != 4<<30 {
		t.Errorf("ramdisk = %d", got)
	}
	want := Tier{Alias: "MEM", Dirs: []string{"/mnt/ramdisk", "/mnt/ramdisk2"}, Quotas: []int64{4 << 30, 4 << 30},
		MediumTypes: []string{"MEM", "MEM"}, High: 0.95, Low: 0.7}
	if got := c.Tiers(); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("tiers = %+v, want %+v", got, want)
	}
	if got := c.WithPrefix("alluxio.master.mount.table.root.option."); !reflect.DeepEqual(got, map[string]string{"s3a.region": "us-east-1"}) {
		t.Errorf("root options = %q", got)
	}
	if v, ok := c.EnvValue("ALLUXIO_LOGS_DIR"); !ok || v != "/override/logs" {
		t.Errorf("EnvValue(ALLUXIO_LOGS_DIR) = %q %v, want the process value", v, ok)
	}
	if v, ok := c.EnvValue("ALLUXIO_RAM_FOLDER"); !ok || v != "/mnt/ramdisk,/mnt/ramdisk2" {
		t.Errorf("EnvValue(ALLUXIO_RAM_FOLDER) = %q %v", v, ok)
	}
	if _, ok := c.EnvValue("NOT_SET_ANYWHERE"); ok {
		t.Errorf("EnvValue of an unset variable reports set")
	}
	if !containsAll(c.Warnings(), "ALLUXIO_MASTER_ADDRESS is deprecated", envPath) {
		t.Errorf("warnings = %q, want the deprecation of ALLUXIO_MASTER_ADDRESS", c.Warnings())
	}
}

func TestEnvFileHostnameBeatsOldAddress(t *testing.T) {
	c, _ := mustLoad(t, layers{envFile: "ALLUXIO_MASTER_HOSTNAME=new\nALLUXIO_MASTER_ADDRESS=old\n"})
	if got := c.Get("alluxio.master.hostname"); got != "new" {
		t.Fatalf("hostname = %q, want new", got)
	}
}

func TestEnvFileProblemsAreWarnings(t *testing.T) {
	c, dir := mustLoad(t, layers{envFile: "A=1\nsource /etc/profile\nB=$(whoami)\n"})
	w := c.Warnings()
	if len(w) != 2 || !strings.HasPrefix(w[0], filepath.Join(dir, EnvFileName)+":2: ") || !strings.Contains(w[1], ":3: ") {
		t.Fatalf("warnings = %q, want lines 2 and 3 of the env file", w)
	}
}

func TestRoleSelectsJavaOpts(t *testing.T) {
	env := map[string]string{
		"ALLUXIO_JAVA_OPTS":        "-Dalluxio.worker.hostname=all",
		"ALLUXIO_MASTER_JAVA_OPTS": "-Dalluxio.worker.hostname=master",
		"ALLUXIO_WORKER_JAVA_OPTS": "-Dalluxio.worker.hostname=worker",
	}
	for role, want := range map[Role]string{RoleMaster: "master", RoleWorker: "worker", RoleFuse: "all"} {
		c, _ := mustLoad(t, layers{env: env, role: role})
		if got := c.Get("alluxio.worker.hostname"); got != want {
			t.Errorf("role %d: worker hostname = %q, want %q", role, got, want)
		}
	}
}

func TestExpansion(t *testing.T) {
	tests := []struct {
		name  string
		l     layers
		key   string
		want  string
		wantS Source
	}{
		{"default chain", layers{flags: map[string]string{"alluxio.work.dir": "/data"}}, "alluxio.master.journal.folder", "/data/journal", Default},
		{"home from environment", layers{env: map[string]string{"ALLUXIO_HOME": "/h"}}, "alluxio.logs.dir", "/h/logs", Default},
		{"site refers to flag", layers{siteFile: "alluxio.master.hostname=${alluxio.worker.hostname}", flags: map[string]string{"alluxio.worker.hostname": "node7"}}, "alluxio.master.hostname", "node7", SiteFile},
		{"several references", layers{flags: map[string]string{"alluxio.fuse.mount.point": "${alluxio.home}/${alluxio.master.hostname}/x"}}, "alluxio.fuse.mount.point", "/srv/alluxio/localhost/x", Flag},
		{"alias reference", layers{flags: map[string]string{"alluxio.fuse.mount.point": "/m/${alluxio.logger.type}"}}, "alluxio.fuse.mount.point", "/m/INFO", Flag},
		{"unterminated is literal", layers{flags: map[string]string{"alluxio.fuse.mount.point": "/m/${oops"}}, "alluxio.fuse.mount.point", "/m/${oops", Flag},
		{"empty is literal", layers{flags: map[string]string{"alluxio.fuse.mount.point": "/m/${}"}}, "alluxio.fuse.mount.point", "/m/${}", Flag},
		{"reference in env file java opts", layers{envFile: "ALLUXIO_JAVA_OPTS='-Dalluxio.fuse.mount.point=${alluxio.work.dir}/fuse'"}, "alluxio.fuse.mount.point", "/srv/alluxio/fuse", EnvFile},
		{"typed after expansion", layers{siteFile: "alluxio.worker.ramdisk.size=3GB"}, "alluxio.worker.tieredstore.level0.dirs.quota", "3GB", Default},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := mustLoad(t, tt.l)
			if got := c.Get(tt.key); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
			if src, _ := c.Source(tt.key); src != tt.wantS {
				t.Errorf("Source(%s) = %v, want %v", tt.key, src, tt.wantS)
			}
		})
	}
}

func TestExpansionErrors(t *testing.T) {
	tests := []struct {
		name    string
		l       layers
		wantKey string
		want    []string
	}{
		{
			name:    "cycle",
			l:       layers{siteFile: "alluxio.work.dir=${alluxio.logs.dir}/w\n"},
			wantKey: "alluxio.work.dir",
			want:    []string{"cyclic reference", "alluxio.work.dir -> alluxio.logs.dir -> alluxio.work.dir", SiteFileName},
		},
		{
			name:    "self reference",
			l:       layers{flags: map[string]string{"alluxio.master.hostname": "${alluxio.master.hostname}"}},
			wantKey: "alluxio.master.hostname",
			want:    []string{"alluxio.master.hostname -> alluxio.master.hostname", "(from flag)"},
		},
		{
			name:    "unset reference",
			l:       layers{flags: map[string]string{"alluxio.fuse.mount.point": "${alluxio.nothing.here}/x"}},
			wantKey: "alluxio.fuse.mount.point",
			want:    []string{"${alluxio.nothing.here}", "not set", `"${alluxio.nothing.here}/x"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.l.load(t)
			var perr *PropertyError
			if !errors.As(err, &perr) || !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("Load error = %v, want a *PropertyError wrapping EINVAL", err)
			}
			if perr.Key != tt.wantKey {
				t.Errorf("error key = %q, want %q", perr.Key, tt.wantKey)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "\n"); n != 0 {
				t.Errorf("error reported %d extra times: %q", n, err)
			}
		})
	}
}

func TestUnknownKeyWarnings(t *testing.T) {
	site := strings.Join([]string{
		"alluxio.master.hostnam=typo",
		"alluxio.bogus.key=1",
		"fs.bogus=1",
		"aws.bogus=1",
		"s3a.accessKeyId=known",
		"fs.kodo.accesskey=known",
		"alluxio.underfs.s3.endpoint=known",
		"alluxio.master.mount.table.root.option.anything.at.all=known",
		"alluxio.worker.tieredstore.level7.dirs.path=/known",
		"alluxio.worker.tieredstore.level1.dirs.quota=1GB",
		"alluxio.worker.tieredstore.level10.alias=MEM",
		"alluxio.worker.tieredstore.level0.bogus=1",
		"log4j.rootLogger=INFO",
		"aws.secretKey=known",
		"alluxio.logger.type=WARN",
	}, "\n")
	c, dir := mustLoad(t, layers{siteFile: site, flags: map[string]string{"alluxio.flag.typo": "x"},
		env: map[string]string{"ALLUXIO_JAVA_OPTS": "-Dalluxio.env.typo=y"}})
	sitePath := filepath.Join(dir, SiteFileName)
	want := []string{
		"alluxio.bogus.key: unknown property (from " + sitePath + ")",
		"alluxio.master.hostnam: unknown property (from " + sitePath + "); did you mean alluxio.master.hostname?",
		"alluxio.worker.tieredstore.level0.bogus: unknown property (from " + sitePath + ")",
		"alluxio.worker.tieredstore.level10.alias: unknown property (from " + sitePath + ")",
		"fs.bogus: unknown property (from " + sitePath + ")",
		"aws.bogus: unknown property (from " + sitePath + ")",
		"alluxio.env.typo: unknown property (from environment ALLUXIO_JAVA_OPTS)",
		"alluxio.flag.typo: unknown property (from flag)",
	}
	got := c.Warnings()
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("warnings lack %q", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d warnings, want %d: %q", len(got), len(want), got)
	}
	// Unknown keys are kept for whoever passes them on.
	if got := c.Get("alluxio.bogus.key"); got != "1" {
		t.Errorf("unknown key value = %q", got)
	}
	if got := c.Get("alluxio.log.level"); got != "WARN" {
		t.Errorf("alias did not set alluxio.log.level: %q", got)
	}
}

func TestMalformedValues(t *testing.T) {
	tests := []struct {
		name string
		l    layers
		// want is the message with {dir} for the conf dir.
		want string
	}{
		{
			"spec example",
			layers{siteFile: "alluxio.user.file.readtype.default=CASH"},
			`alluxio.user.file.readtype.default: invalid value "CASH" (from {dir}/alluxio-site.properties): want one of CACHE, CACHE_PROMOTE, NO_CACHE`,
		},
		{
			"port from environment java opts",
			layers{env: map[string]string{"ALLUXIO_JAVA_OPTS": "-Dalluxio.master.rpc.port=70000"}},
			`alluxio.master.rpc.port: invalid value "70000" (from environment ALLUXIO_JAVA_OPTS): want a port from 1 to 65535`,
		},
		{
			"bool from flag",
			layers{flags: map[string]string{"alluxio.fuse.debug.enabled": "yes"}},
			`alluxio.fuse.debug.enabled: invalid value "yes" (from flag): want true or false`,
		},
		{
			"bytes from env file",
			layers{envFile: "ALLUXIO_WORKER_MEMORY_SIZE=lots"},
			`alluxio.worker.ramdisk.size: invalid value "lots" (from {dir}/alluxio-env.sh variable ALLUXIO_WORKER_MEMORY_SIZE): want a size such as 64MB`,
		},
		{
			"bytes out of range",
			layers{siteFile: "alluxio.worker.page.store.page.size=1KB"},
			`alluxio.worker.page.store.page.size: invalid value "1KB" (from {dir}/alluxio-site.properties): want a size such as 64MB (units B, KB, MB, GB, TB, PB) from 4KB to 64MB`,
		},
		{
			"max read bytes above 1MB",
			layers{flags: map[string]string{"alluxio.fuse.max.read.bytes": "2MB"}},
			`alluxio.fuse.max.read.bytes: invalid value "2MB" (from flag)`,
		},
		{
			"int out of range",
			layers{flags: map[string]string{"alluxio.worker.tieredstore.levels": "4"}},
			`alluxio.worker.tieredstore.levels: invalid value "4" (from flag): want an integer from 1 to 3`,
		},
		{
			"never not allowed",
			layers{flags: map[string]string{"alluxio.fuse.attr.timeout": "-1"}},
			`alluxio.fuse.attr.timeout: invalid value "-1" (from flag): want a duration`,
		},
		{
			"duration",
			layers{flags: map[string]string{"alluxio.user.file.metadata.sync.interval": "soon"}},
			`, or -1 for never`,
		},
		{
			"ratio",
			layers{flags: map[string]string{"alluxio.worker.tieredstore.level0.watermark.high.ratio": "1.5"}},
			`want a number from 0 to 1`,
		},
		{
			"umask",
			layers{flags: map[string]string{"alluxio.security.authorization.permission.umask": "089"}},
			`alluxio.security.authorization.permission.umask: invalid value "089" (from flag): want octal`,
		},
		{
			"address list",
			layers{flags: map[string]string{"alluxio.master.embedded.journal.addresses": "m1:19200,m2"}},
			`want comma-separated host:port pairs`,
		},
		{
			"quota list",
			layers{flags: map[string]string{"alluxio.worker.tieredstore.level0.dirs.quota": "1GB,x"}},
			`alluxio.worker.tieredstore.level0.dirs.quota: invalid value "1GB,x" (from flag)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := tt.l.load(t)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, syscall.EINVAL) {
				t.Errorf("error %v does not wrap EINVAL", err)
			}
			want := strings.ReplaceAll(tt.want, "{dir}", dir)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestAllMalformedValuesReported(t *testing.T) {
	_, _, err := layers{flags: map[string]string{"alluxio.master.rpc.port": "x", "alluxio.worker.rpc.port": "y"}}.load(t)
	if err == nil || !strings.Contains(err.Error(), "alluxio.master.rpc.port") || !strings.Contains(err.Error(), "alluxio.worker.rpc.port") {
		t.Fatalf("error = %v, want both ports named", err)
	}
}

func TestEnumsStoredUpperCase(t *testing.T) {
	c, _ := mustLoad(t, layers{siteFile: "alluxio.user.file.readtype.default = cache_promote\nalluxio.master.metastore=heap"})
	if got := c.Get("alluxio.user.file.readtype.default"); got != "CACHE_PROMOTE" {
		t.Errorf("readtype = %q", got)
	}
	if got := c.String("alluxio.master.metastore"); got != "HEAP" {
		t.Errorf("metastore = %q", got)
	}
}

func TestSecretsMaskedInErrors(t *testing.T) {
	const secret = "AKIAsup3rs3cr3t"
	tests := []struct {
		name string
		l    layers
	}{
		{"malformed value drawn from a secret", layers{siteFile: "aws.secretKey=" + secret + "\nalluxio.master.rpc.port=${aws.secretKey}"}},
		{"unset reference in a secret", layers{flags: map[string]string{"alluxio.master.mount.table.root.option.s3a.secretKey": secret + "${alluxio.none}"}}},
		{"cycle through a secret", layers{flags: map[string]string{"s3a.secretKey": secret + "${s3a.secretKey}"}}},
		{"password in a java opt", layers{env: map[string]string{"ALLUXIO_JAVA_OPTS": "-Dfs.kodo.Password=" + secret + "${fs.kodo.Password}"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.l.load(t)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error shows the secret: %q", err)
			}
			if !strings.Contains(err.Error(), `"`+Mask+`"`) {
				t.Fatalf("error %q does not show the mask", err)
			}
		})
	}
}

func TestMasked(t *testing.T) {
	c, _ := mustLoad(t, layers{siteFile: strings.Join([]string{
		"aws.secretKey=s3cr3t",
		"alluxio.master.mount.table.root.option.s3a.secretKey=s3cr3t",
		"alluxio.master.mount.table.root.ufs=s3://user:s3cr3t@bucket/dir?x=1",
		"alluxio.fuse.mount.point=/mnt/${aws.secretKey}",
		"alluxio.underfs.plain=ftp://user@host/",
		"alluxio.underfs.slashed=s3://user:wJa/s3cr3t@bucket/dir",
	}, "\n")})
	tests := []struct{ key, want string }{
		{"aws.secretKey", Mask},
		{"alluxio.master.mount.table.root.option.s3a.secretKey", Mask},
		{"alluxio.master.mount.table.root.ufs", "s3://user:" + Mask + "@bucket/dir?x=1"},
		{"alluxio.fuse.mount.point", Mask},
		{"alluxio.underfs.plain", "ftp://user@host/"},
		{"alluxio.underfs.slashed", "s3://user:" + Mask + "@bucket/dir"},
		{"alluxio.master.hostname", "localhost"},
		{"aws.accessKeyId", ""},
	}
	for _, tt := range tests {
		if got := c.Masked(tt.key); got != tt.want {
			t.Errorf("Masked(%s) = %q, want %q", tt.key, got, tt.want)
		}
	}
	// Get still returns credentials in clear for the code that uses them.
	if got := c.Get("aws.secretKey"); got != "s3cr3t" {
		t.Errorf("Get(aws.secretKey) = %q", got)
	}
}

func TestIsSecret(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"aws.secretKey", true},
		{"s3a.accessKeyId", true},
		{"fs.kodo.AccessKey", true},
		{"alluxio.security.login.password", true},
		{"fs.oss.access.key", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"alluxio.web.token", true},
		{"fs.gcs.credential.path", true},
		{"private_key", true},
		{"aws_session_key", true},
		{"db.pass", true},
		{"ftp.passwd", true},
		{"alluxio.fuse.passthrough.enabled", false},
		{"alluxio.master.keytab.file", false},
		{"alluxio.master.hostname", false},
		{"alluxio.user.file.readtype.default", false},
	}
	for _, tt := range tests {
		if got := IsSecret(tt.key); got != tt.want {
			t.Errorf("IsSecret(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestTiers(t *testing.T) {
	twoLevels := "alluxio.worker.tieredstore.levels=2\nalluxio.worker.tieredstore.level1.dirs.path=/ssd1, /ssd2,/ssd3\nalluxio.worker.tieredstore.level1.dirs.quota=100GB,200GB\n"
	tests := []struct {
		name    string
		site    string
		want    []Tier
		wantErr []string
	}{
		{
			name: "two levels, quotas padded",
			site: twoLevels + "alluxio.worker.tieredstore.level1.dirs.mediumtype=ssd,nvme\n",
			want: []Tier{
				{Level: 0, Alias: "MEM", Dirs: []string{"/dev/shm"}, Quotas: []int64{2 << 30}, MediumTypes: []string{"MEM"}, High: 0.95, Low: 0.7},
				{Level: 1, Alias: "SSD", Dirs: []string{"/ssd1", "/ssd2", "/ssd3"}, Quotas: []int64{100 << 30, 200 << 30, 200 << 30},
					MediumTypes: []string{"SSD", "NVME", "NVME"}, High: 0.95, Low: 0.7},
			},
		},
		{
			name: "levels beyond the count are ignored",
			site: "alluxio.worker.tieredstore.level1.watermark.low.ratio=0.99\n" +
				"alluxio.worker.tieredstore.level2.watermark.high.ratio=lots\n" +
				"alluxio.worker.tieredstore.level2.alias=MEM\n" +
				"alluxio.worker.tieredstore.level2.dirs.path=${alluxio.nothing}\n",
			want: []Tier{{Level: 0, Alias: "MEM", Dirs: []string{"/dev/shm"}, Quotas: []int64{2 << 30}, MediumTypes: []string{"MEM"}, High: 0.95, Low: 0.7}},
		},
		{
			name:    "low watermark not below high",
			site:    "alluxio.worker.tieredstore.level0.watermark.low.ratio=0.95\n",
			wantErr: []string{"alluxio.worker.tieredstore.level0.watermark.low.ratio", "alluxio.worker.tieredstore.level0.watermark.high.ratio", "must be below"},
		},
		{
			name:    "watermark checked on an active second level",
			site:    twoLevels + "alluxio.worker.tieredstore.level1.watermark.high.ratio=0.5\n",
			wantErr: []string{`alluxio.worker.tieredstore.level1.watermark.low.ratio: invalid value "0.7" (from default): must be below alluxio.worker.tieredstore.level1.watermark.high.ratio (0.5, from `},
		},
		{
			name:    "second level without directories",
			site:    "alluxio.worker.tieredstore.levels=2\n",
			wantErr: []string{"alluxio.worker.tieredstore.level1.dirs.path", "at least one directory", "alluxio.worker.tieredstore.levels (2, from"},
		},
		{
			name:    "second level without quota",
			site:    "alluxio.worker.tieredstore.levels=2\nalluxio.worker.tieredstore.level1.dirs.path=/ssd\n",
			wantErr: []string{"alluxio.worker.tieredstore.level1.dirs.quota", "want a quota"},
		},
		{
			name:    "more quotas than directories",
			site:    "alluxio.worker.tieredstore.level0.dirs.quota=1GB,2GB\n",
			wantErr: []string{"alluxio.worker.tieredstore.level0.dirs.quota", "2 quotas for 1 directories", "alluxio.worker.tieredstore.level0.dirs.path"},
		},
		{
			name:    "duplicate alias",
			site:    twoLevels + "alluxio.worker.tieredstore.level1.alias=mem\n",
			wantErr: []string{"alluxio.worker.tieredstore.level1.alias", "same alias as alluxio.worker.tieredstore.level0.alias"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := layers{siteFile: tt.site}.load(t)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("Load succeeded")
				}
				if !errors.Is(err, syscall.EINVAL) {
					t.Errorf("error %v does not wrap EINVAL", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Tiers(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tiers = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestIgnoredLevelWarns(t *testing.T) {
	c, _ := mustLoad(t, layers{flags: map[string]string{"alluxio.worker.tieredstore.level2.watermark.high.ratio": "lots"}})
	if !containsAll(c.Warnings(), "alluxio.worker.tieredstore.level2.watermark.high.ratio", "ignored as alluxio.worker.tieredstore.levels is 1") {
		t.Fatalf("warnings = %q", c.Warnings())
	}
	if got := c.Ratio("alluxio.worker.tieredstore.level2.watermark.high.ratio"); got != 0 {
		t.Errorf("ignored ratio reads %v, want 0", got)
	}
}

func TestTiersCopy(t *testing.T) {
	c, _ := mustLoad(t, layers{})
	c.Tiers()[0].Dirs[0] = "/changed"
	if got := c.Tiers()[0].Dirs[0]; got != "/dev/shm" {
		t.Fatalf("Tiers shares its slices: %q", got)
	}
}

func TestConfDirSetTooLateIgnored(t *testing.T) {
	tests := []struct {
		name string
		l    layers
	}{
		{"site file", layers{siteFile: "alluxio.conf.dir=/elsewhere"}},
		{"env file", layers{envFile: "ALLUXIO_JAVA_OPTS=-Dalluxio.conf.dir=/elsewhere"}},
		{"java opts", layers{env: map[string]string{"ALLUXIO_JAVA_OPTS": "-Dalluxio.conf.dir=/elsewhere"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir := mustLoad(t, tt.l)
			if got := c.Get("alluxio.conf.dir"); got != dir {
				t.Errorf("alluxio.conf.dir = %q, want %q", got, dir)
			}
			if src, where := c.Source("alluxio.conf.dir"); src != Environment || where != "ALLUXIO_CONF_DIR" {
				t.Errorf("Source = %v %q", src, where)
			}
			if !containsAll(c.Warnings(), "alluxio.conf.dir: ignored here") {
				t.Errorf("warnings = %q", c.Warnings())
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Run("malformed escape", func(t *testing.T) {
		_, dir, err := layers{siteFile: "a=1\nb=\\uXYZW\n"}.load(t)
		want := filepath.Join(dir, SiteFileName) + ": line 2: malformed"
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("error = %v, want %q", err, want)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, SiteFileName), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := Load(LoadOptions{Env: envOf(map[string]string{"ALLUXIO_CONF_DIR": dir})})
		if err == nil || !strings.Contains(err.Error(), SiteFileName) {
			t.Fatalf("error = %v, want one naming %s", err, SiteFileName)
		}
	})
}

func TestWithPrefix(t *testing.T) {
	c, _ := mustLoad(t, layers{flags: map[string]string{
		"alluxio.master.mount.table.root.option.s3a.accessKeyId": "id",
		"alluxio.master.mount.table.root.option.fs.kodo.region":  "z0",
	}})
	want := map[string]string{"s3a.accessKeyId": "id", "fs.kodo.region": "z0"}
	if got := c.WithPrefix("alluxio.master.mount.table.root.option."); !reflect.DeepEqual(got, want) {
		t.Fatalf("WithPrefix = %q, want %q", got, want)
	}
}

func TestKeys(t *testing.T) {
	c, _ := mustLoad(t, layers{flags: map[string]string{"custom.key": "v"}})
	keys := c.Keys()
	if !slices.IsSorted(keys) {
		t.Errorf("Keys not sorted")
	}
	for _, k := range []string{"custom.key", "alluxio.home", "alluxio.worker.tieredstore.level1.alias"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys lacks %s", k)
		}
	}
	if slices.Contains(keys, "alluxio.worker.tieredstore.level1.dirs.path") {
		t.Errorf("Keys lists a key without default that was never set")
	}
}

func TestGetterPanics(t *testing.T) {
	c, _ := mustLoad(t, layers{})
	tests := []struct {
		name string
		call func()
	}{
		{"unknown key", func() { c.Int("alluxio.no.such.key") }},
		{"wrong kind", func() { c.Bool("alluxio.master.rpc.port") }},
		{"string of unknown key", func() { c.String("custom.key") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tt.call()
		})
	}
}

func TestPropertiesTable(t *testing.T) {
	props := Properties()
	if !slices.IsSortedFunc(props, func(a, b Property) int { return strings.Compare(a.Key, b.Key) }) {
		t.Error("Properties not sorted")
	}
	for _, p := range props {
		if p.Description == "" {
			t.Errorf("%s has no description", p.Key)
		}
		if p.Kind == KindEnum && p.HasDefault && !slices.Contains(p.Values, p.Default) {
			t.Errorf("%s: default %q not among %q", p.Key, p.Default, p.Values)
		}
		if strings.Contains(p.Kind.String(), "Kind(") {
			t.Errorf("%s: kind has no name", p.Key)
		}
	}
	props[0].Key = "changed"
	if Properties()[0].Key == "changed" {
		t.Error("Properties shares the table")
	}
}

func containsAll(list []string, parts ...string) bool {
	return slices.ContainsFunc(list, func(s string) bool {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	})
}
