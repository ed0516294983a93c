// tracers.cc — what the collector sees of the machine: the tracers of the
// types of compiled code (node.h) and of tasks (task.h), the task's
// finalizer, and the machine's roots (Machine::MarkRoots).
#include "interp/machine.h"
#include "interp/machine_internal.h"

namespace sx::interp {

void RegisterMachineTypes(Heap& heap) {
  heap.SetTracer(ObjType::kNode, [](Heap& h, Obj* o) {
    auto* n = static_cast<Node*>(o);
    h.Mark(n->value);
    h.Mark(n->file);
    h.MarkObj(n->extra);
    h.MarkObj(n->a);
    h.MarkObj(n->b);
    h.MarkObj(n->c);
    h.MarkObj(n->callee);
    h.MarkObj(n->fn);
    for (uint32_t i = 0; i < n->nkids; ++i) h.MarkObj(n->kids[i]);
  });
  heap.SetTracer(ObjType::kProto, [](Heap& h, Obj* o) {
    auto* p = static_cast<Proto*>(o);
    h.MarkObj(p->body);
    h.Mark(p->name);
    h.Mark(p->doc);
    h.Mark(p->file);
  });
  heap.SetTracer(ObjType::kEnv, [](Heap& h, Obj* o) {
    auto* e = static_cast<Env*>(o);
    h.MarkObj(e->parent);
    for (uint32_t i = 0; i < e->size; ++i) h.Mark(e->slots[i]);
    if (e->flags & kEnvGrown) h.Mark(e->inline_slots[0]);  // the slots' storage (SetSlot)
  });
  heap.SetTracer(ObjType::kClosure, [](Heap& h, Obj* o) {
    auto* c = static_cast<Closure*>(o);
    h.MarkObj(c->proto);
    h.MarkObj(c->env);
  });
  heap.SetTracer(ObjType::kMacro, [](Heap& h, Obj* o) { h.Mark(static_cast<Macro*>(o)->fn); });
  heap.SetTracer(ObjType::kScope, [](Heap& h, Obj* o) {
    auto* s = static_cast<Scope*>(o);
    h.MarkObj(s->next);
    h.MarkObj(s->name);
    h.MarkObj(s->proto);
  });
  heap.SetTracer(ObjType::kTask, [](Heap& h, Obj* o) {
    auto* t = static_cast<Task*>(o);
    for (const Frame& f : *t->frames) {
      h.MarkObj(f.node);
      h.MarkObj(f.env);
      h.Mark(f.x);
      h.Mark(f.y);
    }
    for (Value v : *t->vals) h.Mark(v);
    h.Mark(t->result);
    h.Mark(t->request);
    h.Mark(t->resume);
    h.Mark(t->op_arg);
    h.MarkObj(t->at);
    if (t->waiters != nullptr) {
      for (Task* w : *t->waiters) h.MarkObj(w);
    }
  });
  heap.SetFinalizer(ObjType::kTask, [](Obj* o) {
    auto* t = static_cast<Task*>(o);
    delete t->frames;
    delete t->vals;
    delete t->waiters;
  });
}

void Machine::MarkRoots(Heap& h) {
  h.MarkObj(task_);
  for (Task* t : task_stack_) h.MarkObj(t);
  h.MarkObj(cur_call_);
  h.MarkObj(lib_entry_);
  h.MarkObj(lib_entry_task_);
  h.Mark(oom_error_);
  h.MarkObj(reg_node_);
  h.MarkObj(reg_env_);
  for (const auto& [id, fc] : fiber_calls_) {
    h.MarkObj(fc->outer);
    h.MarkObj(fc->inner);
    h.Mark(fc->request);
    h.Mark(fc->result);
    h.Mark(fc->resume_value);
    for (Value v : fc->args) h.Mark(v);
  }
  for (const auto& [id, t] : live_) h.MarkObj(t);
  for (Task* t : ready_) h.MarkObj(t);
  for (Task* t : sleepers_) h.MarkObj(t);
  h.MarkObj(main_);
  h.Mark(main_result_.value);
}

}  // namespace sx::interp
