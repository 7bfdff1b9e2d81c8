// tests/compat/mesosgo_gen.go — random Mesos v1 messages from mesos-go, for
// the differential test of Dromos's codecs (tests/compat/compat_check.c).
//
// Uses the generated NewPopulated* functions of Debian's mesos-go (gogo
// protobuf) and writes, per message, one line:
//
//	<type>\t<base64 of gogo's protobuf bytes>\t<gogo jsonpb JSON>\n
//
// The JSON is gogo's jsonpb with OrigName (proto field names) and
// EmitDefaults, so that it mirrors the Go struct exactly: a nil pointer is
// null (unset), a non-pointer field ((gogoproto.nullable)=false) is written
// even when zero, just as gogo's marshaler puts it on the wire. jsonpb writes
// 64-bit integers as strings (proto3 style); Dromos accepts both forms.
//
// The random source biases Intn(10), which the generated code uses to decide
// whether an optional field is set, towards "unset", so messages stay small
// (median ~250 bytes) and the test stays fast.
//
// Usage: mesosgo_gen SEED COUNT_PER_TYPE
package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"math/rand"
	"os"
	"strconv"

	"github.com/gogo/protobuf/jsonpb"
	"github.com/gogo/protobuf/proto"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/agent"
	"github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

type randy struct{ *rand.Rand }

func (r randy) Intn(n int) int {
	if n == 10 && r.Rand.Intn(100) < 70 {
		return 0
	}
	return r.Rand.Intn(n)
}

type gen struct {
	name string // the protobuf-c descriptor's name
	make func(r randy) proto.Message
}

var gens = []gen{
	{"mesos.scheduler.Call", func(r randy) proto.Message { return scheduler.NewPopulatedCall(r, true) }},
	{"mesos.scheduler.Event", func(r randy) proto.Message { return scheduler.NewPopulatedEvent(r, true) }},
	{"mesos.executor.Call", func(r randy) proto.Message { return executor.NewPopulatedCall(r, true) }},
	{"mesos.executor.Event", func(r randy) proto.Message { return executor.NewPopulatedEvent(r, true) }},
	{"mesos.master.Call", func(r randy) proto.Message { return master.NewPopulatedCall(r, true) }},
	{"mesos.master.Response", func(r randy) proto.Message { return master.NewPopulatedResponse(r, true) }},
	{"mesos.master.Event", func(r randy) proto.Message { return master.NewPopulatedEvent(r, true) }},
	{"mesos.agent.Call", func(r randy) proto.Message { return agent.NewPopulatedCall(r, true) }},
	{"mesos.agent.Response", func(r randy) proto.Message { return agent.NewPopulatedResponse(r, true) }},
	{"mesos.TaskInfo", func(r randy) proto.Message { return mesos.NewPopulatedTaskInfo(r, true) }},
	{"mesos.Offer", func(r randy) proto.Message { return mesos.NewPopulatedOffer(r, true) }},
	{"mesos.Resource", func(r randy) proto.Message { return mesos.NewPopulatedResource(r, true) }},
	{"mesos.TaskStatus", func(r randy) proto.Message { return mesos.NewPopulatedTaskStatus(r, true) }},
	{"mesos.FrameworkInfo", func(r randy) proto.Message { return mesos.NewPopulatedFrameworkInfo(r, true) }},
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mesosgo_gen SEED COUNT_PER_TYPE")
		os.Exit(2)
	}
	seed, err1 := strconv.ParseInt(os.Args[1], 10, 64)
	count, err2 := strconv.Atoi(os.Args[2])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "mesosgo_gen: SEED and COUNT_PER_TYPE must be integers")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	jm := jsonpb.Marshaler{OrigName: true, EmitDefaults: true}
	for gi, g := range gens {
		r := randy{rand.New(rand.NewSource(seed*100 + int64(gi)))}
		for i := 0; i < count; i++ {
			m := g.make(r)
			pb, err := proto.Marshal(m)
			if err != nil {
				fmt.Fprintf(os.Stderr, "mesosgo_gen: %s #%d: %v\n", g.name, i, err)
				os.Exit(1)
			}
			js, err := jm.MarshalToString(m)
			if err != nil {
				fmt.Fprintf(os.Stderr, "mesosgo_gen: %s #%d: json: %v\n", g.name, i, err)
				os.Exit(1)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", g.name, base64.StdEncoding.EncodeToString(pb), js)
		}
	}
}
