// follow_ops.h — persist/wait: how a follower waits for the next commit of
// the store it reads (docs/persist.md, "Readers and followers").
//
//   (perform {:op "persist/wait" :args (list token timeout-ms)})
//
// token is a :position this op answered before (nil: none). The answer is
// {:position p :blocking b}: p is the store's log position now, an integer
// that rises with every commit the process can see, so it differs from
// token as soon as anything was committed after token was taken. In a
// read-only process (a reader beside a writer) the op blocks until then, for
// at most timeout-ms (0 to 60000), woken by inotify on the store directory
// and its active segment; :blocking is true. In the writer's own process
// nothing outside it commits, so the op never blocks (:blocking false): the
// caller sleeps as a task instead (the persist library does).
#pragma once

#include "sx/sx.h"

namespace sx::host {

class PersistService;

// Registers the handler of persist/wait; service must outlive in.
void InstallFollowOps(Interpreter& in, PersistService* service);

}  // namespace sx::host
