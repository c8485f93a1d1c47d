package hdfs

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeConf writes a Hadoop XML file with props into dir.
func writeConf(t *testing.T, dir, name string, props map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
	for k, v := range props {
		fmt.Fprintf(&b, "<property><name>%s</name><value>%s</value><final>true</final></property>\n", k, v)
	}
	b.WriteString("</configuration>\n")
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfig(t *testing.T) {
	t.Setenv(envUser, "")
	dir := t.TempDir()
	core := writeConf(t, dir, "core-site.xml", map[string]string{
		"fs.defaultFS":               "hdfs://mycluster",
		"hadoop.tmp.dir":             "/tmp/hadoop-${user.name}",
		"dfs.client.base":            "nn",
		"ipc.client.connect.timeout": "7000",
	})
	site := writeConf(t, dir, "hdfs-site.xml", map[string]string{
		"dfs.nameservices":                       "mycluster,other",
		"dfs.ha.namenodes.mycluster":             "nn2, nn1",
		"dfs.namenode.rpc-address.mycluster.nn1": "${dfs.client.base}1.example.com:8020",
		"dfs.namenode.rpc-address.mycluster.nn2": "nn2.example.com:8020",
		"dfs.namenode.rpc-address.fed":           "fed.example.com:9000",
		"dfs.replication":                        "2",
		"dfs.blocksize":                          "64m",
		"dfs.client.socket-timeout":              "5000",
		"dfs.client.use.datanode.hostname":       "true",
	})
	badHA := writeConf(t, dir, "bad-ha.xml", map[string]string{"dfs.ha.namenodes.broken": "a,b",
		"dfs.namenode.rpc-address.broken.a": "a:1"})
	kerberos := writeConf(t, dir, "kerberos.xml", map[string]string{"hadoop.security.authentication": "Kerberos"})
	notXML := filepath.Join(dir, "not.xml")
	os.WriteFile(notXML, []byte("<configuration><property>"), 0o644)
	both := core + ":" + site
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		uri     string
		opts    map[string]string
		env     string // HADOOP_USER_NAME
		wantErr string // substring of the error; "" for success
		errno   syscall.Errno
		check   func(c *config) error
	}{
		{"host and port", "hdfs://nn:9000/data/x/", nil, "", "", 0, func(c *config) error {
			if !slices.Equal(c.addrs, []string{"nn:9000"}) || c.root != "/data/x" || c.name != "hdfs://nn:9000/data/x" {
				return fmt.Errorf("%+v", c)
			}
			if c.user != me.Username || c.timeout != defaultTimeout || c.retryFor != defaultRetryDuration {
				return fmt.Errorf("defaults: %+v", c)
			}
			return nil
		}},
		{"default port", "hdfs://namenode.example.com", nil, "", "", 0, func(c *config) error {
			if !slices.Equal(c.addrs, []string{"namenode.example.com:8020"}) || c.root != "/" || c.name != "hdfs://namenode.example.com/" {
				return fmt.Errorf("%+v", c)
			}
			return nil
		}},
		{"HA nameservice in the listed order", "hdfs://mycluster/warehouse", map[string]string{keyConfiguration: both}, "", "", 0, func(c *config) error {
			if !slices.Equal(c.addrs, []string{"nn2.example.com:8020", "nn1.example.com:8020"}) {
				return fmt.Errorf("addrs %v", c.addrs)
			}
			if c.replication != 2 || c.blockSize != 64<<20 || !c.useHostname || c.timeout != 5*time.Second || c.connectTimeout != 7*time.Second {
				return fmt.Errorf("client settings %+v", c)
			}
			return nil
		}},
		{"fs.defaultFS", "hdfs:///warehouse", map[string]string{keyConfiguration: both}, "", "", 0, func(c *config) error {
			if len(c.addrs) != 2 || c.name != "hdfs://mycluster/warehouse" {
				return fmt.Errorf("%+v", c)
			}
			return nil
		}},
		{"federated nameservice without HA", "hdfs://fed/", map[string]string{keyConfiguration: both}, "", "", 0, func(c *config) error {
			if !slices.Equal(c.addrs, []string{"fed.example.com:9000"}) {
				return fmt.Errorf("addrs %v", c.addrs)
			}
			return nil
		}},
		{"options over the Hadoop files, with the root prefix", "hdfs://mycluster/", map[string]string{
			keyConfiguration: both, "alluxio.master.mount.table.root.option." + keyTimeout: "2s",
			keyRetryDuration: "1min", keyConnectTimeout: "1500",
		}, "", "", 0, func(c *config) error {
			if c.timeout != 2*time.Second || c.retryFor != time.Minute || c.connectTimeout != 1500*time.Millisecond {
				return fmt.Errorf("%+v", c)
			}
			return nil
		}},
		{"login user option over HADOOP_USER_NAME", "hdfs://nn:1/", map[string]string{keyLoginUser: "alice"}, "bob", "", 0, func(c *config) error {
			if c.user != "alice" || c.userFrom != keyLoginUser {
				return fmt.Errorf("user %q from %q", c.user, c.userFrom)
			}
			return nil
		}},
		{"HADOOP_USER_NAME over the process user", "hdfs://nn:1/", nil, "bob", "", 0, func(c *config) error {
			if c.user != "bob" || c.userFrom != envUser {
				return fmt.Errorf("user %q from %q", c.user, c.userFrom)
			}
			return nil
		}},
		{"accepted keys", "hdfs://nn:1/", map[string]string{keyRemote: "true", keyVersion: "3.3", keyImpersonation: "false",
			keyTrash: "false", "alluxio.underfs.hdfs.impl": "org.apache.hadoop.hdfs.DistributedFileSystem"}, "", "", 0,
			func(c *config) error { return nil }},
		{"unknown nameservice host", "hdfs://other/", map[string]string{keyConfiguration: both}, "", "nameservice other", syscall.EINVAL, nil},
		{"HA namenode without an address", "hdfs://broken/", map[string]string{keyConfiguration: badHA}, "", "dfs.namenode.rpc-address.broken.b", syscall.EINVAL, nil},
		{"hdfs:/// without fs.defaultFS", "hdfs:///x", nil, "", "fs.defaultFS", syscall.EINVAL, nil},
		{"Kerberos in the Hadoop files", "hdfs://nn:1/", map[string]string{keyConfiguration: kerberos}, "", "hadoop.security.authentication=kerberos", syscall.ENOTSUP, nil},
		{"Kerberos keytab option", "hdfs://nn:1/", map[string]string{keyKrbKeytab: "/etc/a.keytab"}, "", keyKrbKeytab, syscall.ENOTSUP, nil},
		{"trash", "hdfs://nn:1/", map[string]string{keyTrash: "true"}, "", keyTrash, syscall.ENOTSUP, nil},
		{"misspelt key", "hdfs://nn:1/", map[string]string{"alluxio.underfs.hdfs.configuraton": both}, "", "alluxio.underfs.hdfs.configuraton", syscall.EINVAL, nil},
		{"missing Hadoop file", "hdfs://nn:1/", map[string]string{keyConfiguration: core + ":" + dir + "/nope.xml"}, "", dir + "/nope.xml", syscall.ENOENT, nil},
		{"not a Hadoop file", "hdfs://nn:1/", map[string]string{keyConfiguration: notXML}, "", notXML, syscall.EINVAL, nil},
		{"bad timeout", "hdfs://nn:1/", map[string]string{keyTimeout: "soon"}, "", keyTimeout, syscall.EINVAL, nil},
		{"bad boolean", "hdfs://nn:1/", map[string]string{keyRemote: "yes"}, "", keyRemote, syscall.EINVAL, nil},
		{"user in the URI", "hdfs://alice@nn:1/", nil, "", keyLoginUser, syscall.EINVAL, nil},
		{"path above the root", "hdfs://nn:1/a/../../b", nil, "", "bad path", syscall.EINVAL, nil},
		{"port out of range", "hdfs://nn:99999/x", nil, "", `port "99999"`, syscall.EINVAL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envUser, tt.env)
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseConfig(u, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, tt.errno) {
					t.Fatalf("parseConfig(%s): %v, want %v naming %q", tt.uri, err, tt.errno, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestHadoopHelpers(t *testing.T) {
	sizes := []struct {
		in   string
		want int64
		bad  bool
	}{{"134217728", 128 << 20, false}, {"128m", 128 << 20, false}, {"1G", 1 << 30, false}, {"2k", 2048, false},
		{"", 0, true}, {"12x", 0, true}, {"99999999999e", 0, true}}
	for _, tt := range sizes {
		got, err := hadoopBytes(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("hadoopBytes(%q) = %d, %v", tt.in, got, err)
		}
	}
	t.Setenv("HDFS_TEST_VAR", "from-env")
	props := map[string]string{"a": "${b}/x", "b": "${env.HDFS_TEST_VAR}", "loop": "${loop}", "missing": "${nope}"}
	expand(props)
	want := map[string]string{"a": "from-env/x", "b": "from-env", "loop": "${loop}", "missing": "${nope}"}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("expand: %s = %q, want %q", k, props[k], v)
		}
	}
}

// A core-site.xml whose fs.defaultFS is another store's URI with keys in it
// (s3a://KEY:SECRET@bucket) is named in the error without the secret.
func TestDefaultFSSecretHidden(t *testing.T) {
	f := filepath.Join(t.TempDir(), "core-site.xml")
	if err := os.WriteFile(f, []byte(`<configuration>
<property><name>fs.defaultFS</name><value>s3a://AKIDX:HADOOPSECRET@bucket</value></property>
</configuration>`), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("hdfs:///data")
	_, err := parseConfig(u, map[string]string{"alluxio.underfs.hdfs.configuration": f})
	if err == nil || strings.Contains(err.Error(), "HADOOPSECRET") || !strings.Contains(err.Error(), "s3a://AKIDX:xxxxx@bucket") {
		t.Errorf("error %v, want one that shows fs.defaultFS without its secret", err)
	}
}
