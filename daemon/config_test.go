package daemon

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/daemon/conf"
)

// TestMasterConfigGroup checks how a master finds itself in the journal
// list and maps its peers' Raft addresses to RPC addresses.
func TestMasterConfigGroup(t *testing.T) {
	const journal = "127.0.0.1:19201,127.0.0.1:19202,127.0.0.1:19203"
	cases := []struct {
		name    string
		flags   map[string]string
		wantErr bool
		raft    string
		peers   int
		rpcOf2  string // RPC address mapped to the second journal address
	}{
		{"single master", map[string]string{"alluxio.master.hostname": "127.0.0.1"}, false, "127.0.0.1:19200", 0, ""},
		{"member by address", map[string]string{
			"alluxio.master.hostname":                   "127.0.0.1",
			"alluxio.master.embedded.journal.port":      "19202",
			"alluxio.master.embedded.journal.addresses": journal,
			"alluxio.master.rpc.addresses":              "127.0.0.1:19991,127.0.0.1:19992,127.0.0.1:19993",
		}, false, "127.0.0.1:19202", 3, "127.0.0.1:19992"},
		{"member by resolved host name", map[string]string{
			"alluxio.master.hostname":                   "localhost",
			"alluxio.master.embedded.journal.port":      "19203",
			"alluxio.master.embedded.journal.addresses": journal,
		}, false, "127.0.0.1:19203", 3, ""},
		{"not a member", map[string]string{
			"alluxio.master.hostname":                   "127.0.0.1",
			"alluxio.master.embedded.journal.port":      "19300",
			"alluxio.master.embedded.journal.addresses": journal,
		}, true, "", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := conf.Load(conf.LoadOptions{Home: t.TempDir(), Flags: tc.flags, Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			mc, err := MasterConfigFrom(c, nil)
			if tc.wantErr {
				if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "alluxio.master.hostname") ||
					!strings.Contains(err.Error(), "alluxio.master.embedded.journal.port") {
					t.Fatalf("error %v: want EINVAL naming both keys", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := mc.Meta
			if m.RaftAddr != tc.raft || len(m.Peers) != tc.peers || m.PeerRPC["127.0.0.1:19202"] != tc.rpcOf2 {
				t.Fatalf("raft %s, peers %v, rpc map %v", m.RaftAddr, m.Peers, m.PeerRPC)
			}
			if tc.peers > 0 && m.NodeID != m.RaftAddr {
				t.Errorf("node id %q, want the journal address %q", m.NodeID, m.RaftAddr)
			}
			if m.RPCAddr != mc.RPCAddr || m.RPCAddr == "" {
				t.Errorf("meta RPC address %q, master's %q", m.RPCAddr, mc.RPCAddr)
			}
		})
	}
}

// TestMasterConfigJournal checks the journal type, the ZooKeeper election
// and where the metastore goes, and that clients find the leader through
// ZooKeeper without a master address.
func TestMasterConfigJournal(t *testing.T) {
	load := func(t *testing.T, flags map[string]string) *conf.Config {
		c, err := conf.Load(conf.LoadOptions{Home: "/opt/alluxio", Flags: flags, Env: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("embedded keeps the metastore in the journal folder", func(t *testing.T) {
		mc, err := MasterConfigFrom(load(t, nil), nil)
		if err != nil || mc.Meta.MetastoreDir != "" || mc.Meta.JournalType != "EMBEDDED" {
			t.Fatalf("%+v, %v", mc.Meta, err)
		}
	})
	t.Run("metastore dir set", func(t *testing.T) {
		mc, err := MasterConfigFrom(load(t, map[string]string{"alluxio.master.metastore.dir": "/data/ms", "alluxio.master.metastore": "HEAP"}), nil)
		if err != nil || mc.Meta.MetastoreDir != "/data/ms" || mc.Meta.Metastore != "HEAP" {
			t.Fatalf("%+v, %v", mc.Meta, err)
		}
	})
	t.Run("UFS journal with ZooKeeper", func(t *testing.T) {
		c := load(t, map[string]string{
			"alluxio.master.journal.type":                       "UFS",
			"alluxio.master.journal.folder":                     "s3://b/journal",
			"alluxio.zookeeper.enabled":                         "true",
			"alluxio.zookeeper.address":                         "zk1:2181,zk2:2181",
			"alluxio.master.journal.ufs.option.s3a.accessKeyId": "id",
		})
		mc, err := MasterConfigFrom(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := mc.Meta
		if m.JournalType != "UFS" || m.MetastoreDir != "/opt/alluxio/metastore" || len(m.ZooKeeper.Servers) != 2 ||
			m.ZooKeeper.Path != "/alluxio/election" || m.JournalOptions["s3a.accessKeyId"] != "id" {
			t.Fatalf("%+v", m)
		}
		cc := ClientConfigFrom(c, nil)
		if len(cc.ZooKeeper.Servers) != 2 || len(cc.MasterAddrs) != 0 {
			t.Fatalf("client: zookeeper %v, master addresses %v", cc.ZooKeeper.Servers, cc.MasterAddrs)
		}
	})
	t.Run("ZooKeeper with the embedded journal", func(t *testing.T) {
		_, err := MasterConfigFrom(load(t, map[string]string{"alluxio.zookeeper.enabled": "true", "alluxio.zookeeper.address": "zk:2181"}), nil)
		if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "alluxio.master.journal.type") {
			t.Fatalf("%v: want EINVAL naming alluxio.master.journal.type", err)
		}
	})
	t.Run("ZooKeeper without an address", func(t *testing.T) {
		_, err := MasterConfigFrom(load(t, map[string]string{"alluxio.master.journal.type": "UFS", "alluxio.zookeeper.enabled": "true"}), nil)
		if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "alluxio.zookeeper.address") {
			t.Fatalf("%v: want EINVAL naming alluxio.zookeeper.address", err)
		}
	})
}

func TestWorkerConfigPrefetch(t *testing.T) {
	tests := []struct {
		name  string
		flags map[string]string
		want  int
	}{
		{"default: 64MB of 1MB pages", nil, 64},
		{"read-ahead off", map[string]string{"alluxio.worker.network.reader.buffer.size": "0"}, -1},
		{"rounded up to a page", map[string]string{"alluxio.worker.network.reader.buffer.size": "10MB",
			"alluxio.worker.page.store.page.size": "4MB"}, 3},
		{"less than a page", map[string]string{"alluxio.worker.network.reader.buffer.size": "64KB"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := conf.Load(conf.LoadOptions{Home: t.TempDir(), Flags: tc.flags, Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			if got := WorkerConfigFrom(c, nil).Store.PrefetchPages; got != tc.want {
				t.Errorf("PrefetchPages = %d, want %d", got, tc.want)
			}
		})
	}
}
