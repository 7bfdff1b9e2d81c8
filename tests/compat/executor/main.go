// tests/compat/executor/main.go — a framework's own executor built against
// Debian's mesos-go (offline, GOPATH mode), used to prove that an unmodified
// mesos-go executor runs under `dromos agent`. Like mesos-go's example
// executor it reads its configuration from the MESOS_* environment the agent
// sets (executor/config.FromEnv), talks to /api/v1/executor through httpcli
// and httpexec's sender, builds calls with executor/calls and dispatches
// events with executor/events: no hand-built requests or headers.
//
// Usage: compat-executor [-codec json|protobuf]   (the agent starts it)
//
// What it does with LAUNCH, by the task's data:
//
//	"finish" (or none)  TASK_STARTING, TASK_RUNNING, then TASK_FINISHED with
//	                    data "done:<task id>"
//	"wait"              TASK_STARTING, TASK_RUNNING, then waits for KILL
//	                    (TASK_KILLED) or SHUTDOWN (TASK_KILLED, then exit)
//	"reconnect"         TASK_STARTING, TASK_RUNNING, then, once subscribed
//	                    again after the agent went away and came back,
//	                    TASK_FINISHED with data "reconnected:<task id>"
//
// MESSAGE "<x>" from the scheduler is answered with MESSAGE "pong:<x>". Every
// update is remembered until the agent's ACKNOWLEDGED and handed back on a
// re-subscription (MESOS_CHECKPOINT frameworks only; others exit when the
// agent goes away, as mesos-go's example does).
//
// Exit status: 0 after SHUTDOWN; 1 when the agent went away or a call failed;
// 2 on a bad flag or environment.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/calls"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	"github.com/mesos/mesos-go/api/v1/lib/executor/events"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpexec"
)

const httpTimeout = 10 * time.Second

type state struct {
	cfg            config.Config
	cli            calls.Sender
	unackedTasks   map[mesos.TaskID]mesos.TaskInfo
	unackedUpdates map[string]executor.Call_Update
	waiting        map[mesos.TaskID]mesos.TaskInfo // "wait" and "reconnect" tasks still running
	subscriptions  int
	shutdown       bool
}

func main() {
	log.SetPrefix("compat-executor: ")
	log.SetFlags(log.Lmicroseconds)
	codecName := flag.String("codec", "protobuf", "json or protobuf")
	flag.Parse()
	mediaType := codecs.MediaTypeProtobuf
	switch *codecName {
	case "protobuf":
	case "json":
		mediaType = codecs.MediaTypeJSON
	default:
		log.Printf("-codec %q: expected json or protobuf", *codecName)
		os.Exit(2)
	}
	cfg, err := config.FromEnv()
	if err != nil {
		log.Printf("%v", err)
		os.Exit(2)
	}
	log.Printf("framework %s executor %s agent %s codec %s checkpoint %v", cfg.FrameworkID,
		cfg.ExecutorID, cfg.AgentEndpoint, *codecName, cfg.Checkpoint)

	http := httpcli.New(
		httpcli.Endpoint("http://"+cfg.AgentEndpoint+"/api/v1/executor"),
		httpcli.Codec(codecs.ByMediaType[mediaType]),
		httpcli.Do(httpcli.With(httpcli.Timeout(httpTimeout))),
	)
	callOptions := executor.CallOptions{calls.Framework(cfg.FrameworkID), calls.Executor(cfg.ExecutorID)}
	s := &state{
		cfg:            cfg,
		cli:            calls.SenderWith(httpexec.NewSender(http.Send), callOptions...),
		unackedTasks:   map[mesos.TaskID]mesos.TaskInfo{},
		unackedUpdates: map[string]executor.Call_Update{},
		waiting:        map[mesos.TaskID]mesos.TaskInfo{},
	}
	// The subscription gets a connection of its own, closed with it.
	subscriber := calls.SenderWith(httpexec.NewSender(http.Send, httpcli.Close(true)), callOptions...)
	handler := s.handler()

	disconnected := time.Now()
	backoff := 100 * time.Millisecond
	for {
		err := s.subscribe(subscriber, handler)
		if s.shutdown {
			log.Printf("shut down by the agent")
			os.Exit(0)
		}
		if err != nil && err != io.EOF {
			log.Printf("%v", err)
		} else {
			log.Printf("disconnected")
		}
		if !cfg.Checkpoint || time.Since(disconnected) > cfg.RecoveryTimeout {
			log.Printf("giving up on the agent")
			os.Exit(1)
		}
		time.Sleep(backoff)
		if backoff *= 2; backoff > cfg.SubscriptionBackoffMax {
			backoff = cfg.SubscriptionBackoffMax
		}
	}
}

// subscribe sends SUBSCRIBE (with what was never acknowledged) and handles
// events until the stream ends or a handler fails.
func (s *state) subscribe(subscriber calls.Sender, handler events.Handler) error {
	tasks := make([]mesos.TaskInfo, 0, len(s.unackedTasks))
	for _, t := range s.unackedTasks {
		tasks = append(tasks, t)
	}
	updates := make([]executor.Call_Update, 0, len(s.unackedUpdates))
	for _, u := range s.unackedUpdates {
		updates = append(updates, u)
	}
	resp, err := subscriber.Send(context.TODO(), calls.NonStreaming(calls.Subscribe(tasks, updates)))
	if resp != nil {
		defer resp.Close()
	}
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %v", err)
	}
	for {
		var e executor.Event
		if err := resp.Decode(&e); err != nil {
			return err
		}
		if err := handler.HandleEvent(context.TODO(), &e); err != nil {
			return err
		}
		if s.shutdown {
			return nil
		}
	}
}

func (s *state) handler() events.Handler {
	return events.HandlerFuncs{
		executor.Event_SUBSCRIBED: func(_ context.Context, e *executor.Event) error {
			sub := e.GetSubscribed()
			s.subscriptions++
			log.Printf("subscribed to agent %s (container %s), subscription %d",
				sub.AgentInfo.GetID().GetValue(), sub.GetContainerID().GetValue(), s.subscriptions)
			if s.subscriptions == 1 {
				return nil
			}
			// Back after the agent restarted: "reconnect" tasks finish now.
			for id, task := range s.waiting {
				if string(task.Data) != "reconnect" {
					continue
				}
				delete(s.waiting, id)
				if err := s.update(id, mesos.TASK_FINISHED, "finished after the agent came back",
					[]byte("reconnected:"+id.Value)); err != nil {
					return err
				}
			}
			return nil
		},
		executor.Event_LAUNCH: func(_ context.Context, e *executor.Event) error {
			task := e.GetLaunch().Task
			s.unackedTasks[task.TaskID] = task
			return s.launch(task)
		},
		executor.Event_LAUNCH_GROUP: func(_ context.Context, e *executor.Event) error {
			for _, task := range e.GetLaunchGroup().TaskGroup.Tasks {
				s.unackedTasks[task.TaskID] = task
				if err := s.launch(task); err != nil {
					return err
				}
			}
			return nil
		},
		executor.Event_KILL: func(_ context.Context, e *executor.Event) error {
			id := e.GetKill().TaskID
			if _, ok := s.waiting[id]; !ok {
				log.Printf("KILL of task %s, which is not running: ignored", id.Value)
				return nil
			}
			log.Printf("KILL %s", id.Value)
			delete(s.waiting, id)
			return s.update(id, mesos.TASK_KILLED, "killed by the framework", nil)
		},
		executor.Event_ACKNOWLEDGED: func(_ context.Context, e *executor.Event) error {
			ack := e.GetAcknowledged()
			delete(s.unackedTasks, ack.TaskID)
			delete(s.unackedUpdates, string(ack.UUID))
			return nil
		},
		executor.Event_MESSAGE: func(_ context.Context, e *executor.Event) error {
			data := e.GetMessage().Data
			log.Printf("message %q", data)
			return s.send(calls.Message(append([]byte("pong:"), data...)))
		},
		executor.Event_SHUTDOWN: func(_ context.Context, e *executor.Event) error {
			log.Printf("SHUTDOWN: killing %d task(s)", len(s.waiting))
			for id := range s.waiting {
				delete(s.waiting, id)
				if err := s.update(id, mesos.TASK_KILLED, "killed by the executor's shutdown", nil); err != nil {
					return err
				}
			}
			s.shutdown = true
			return nil
		},
		executor.Event_ERROR: func(_ context.Context, e *executor.Event) error {
			return errors.New("ERROR event: " + e.GetError().GetMessage())
		},
	}
}

func (s *state) launch(task mesos.TaskInfo) error {
	log.Printf("LAUNCH %s (%q)", task.TaskID.Value, task.Data)
	if err := s.update(task.TaskID, mesos.TASK_STARTING, "", nil); err != nil {
		return err
	}
	if err := s.update(task.TaskID, mesos.TASK_RUNNING, "", nil); err != nil {
		return err
	}
	switch string(task.Data) {
	case "", "finish":
		return s.update(task.TaskID, mesos.TASK_FINISHED, "finished by the mesos-go executor",
			[]byte("done:"+task.TaskID.Value))
	case "wait", "reconnect":
		s.waiting[task.TaskID] = task
		return nil
	default:
		return s.update(task.TaskID, mesos.TASK_FAILED, fmt.Sprintf("unknown task data %q", task.Data), nil)
	}
}

// update sends one status update; it is kept until ACKNOWLEDGED.
func (s *state) update(id mesos.TaskID, st mesos.TaskState, message string, data []byte) error {
	uuid := make([]byte, 16)
	if _, err := rand.Read(uuid); err != nil {
		return err
	}
	status := mesos.TaskStatus{
		TaskID:     id,
		State:      st.Enum(),
		Source:     mesos.SOURCE_EXECUTOR.Enum(),
		ExecutorID: &mesos.ExecutorID{Value: s.cfg.ExecutorID},
		UUID:       uuid,
		Data:       data,
	}
	if message != "" {
		status.Message = &message
	}
	call := calls.Update(status)
	s.unackedUpdates[string(uuid)] = *call.Update
	if err := s.send(call); err != nil {
		return fmt.Errorf("UPDATE %s of task %s: %v", st, id.Value, err)
	}
	return nil
}

func (s *state) send(call *executor.Call) error {
	resp, err := s.cli.Send(context.TODO(), calls.NonStreaming(call))
	if resp != nil {
		resp.Close()
	}
	return err
}
