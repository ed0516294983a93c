// persist_table_test.cc — the op table against what describes it and what
// imitates it: docs/persist-ops.md lists every op with the table's
// signature, and the SX reference servicer (persist/serve and
// persist/blob-serve, behind persist/mock-durable) answers a scripted run of
// requests exactly as the host does, errors and conflicts included.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "host/cli/setup.h"
#include "host/ops/persist_ops.h"
#include "sx/sx.h"

namespace {

using sx::host::OpMode;
using sx::host::OpSpec;

// op name -> the signature in its row: "| `persist/read` | `(stream [from [limit]])` | ..."
std::map<std::string, std::string> DocumentedOps() {
  std::ifstream in(std::string(SX_SOURCE_DIR) + "/docs/persist-ops.md");
  EXPECT_TRUE(in.good()) << "cannot read docs/persist-ops.md";
  std::map<std::string, std::string> ops;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    size_t name_end = line.find('`', 3);
    size_t sig_start = line.find("| `", name_end);
    if (name_end == std::string::npos || sig_start == std::string::npos) continue;
    size_t sig_end = line.find('`', sig_start + 3);
    ops[line.substr(3, name_end - 3)] = line.substr(sig_start + 3, sig_end - sig_start - 3);
  }
  return ops;
}

TEST(PersistTable, EveryOpIsDocumentedWithItsSignature) {
  std::map<std::string, std::string> doc = DocumentedOps();
  for (const OpSpec& op : sx::host::PersistOps()) {
    auto it = doc.find(op.name);
    if (it == doc.end()) {
      ADD_FAILURE() << op.name << " is missing from docs/persist-ops.md";
      continue;
    }
    EXPECT_EQ(it->second, sx::host::OpSignature(op)) << op.name;
  }
  for (const auto& [name, sig] : doc) {
    EXPECT_NE(sx::host::FindPersistOp(name), nullptr)
        << "docs/persist-ops.md lists " << name << ", which the table does not have";
  }
}

TEST(PersistTable, EveryOpHasADocstringAndTheCodeItsModeNeeds) {
  std::set<std::string> names;
  for (const OpSpec& op : sx::host::PersistOps()) {
    EXPECT_TRUE(names.insert(op.name).second) << op.name << " is declared twice";
    EXPECT_NE(std::string(op.doc), "") << op.name;
    EXPECT_NE(op.plan, nullptr) << op.name;
    EXPECT_EQ(op.finish != nullptr, op.mode == OpMode::kWrite) << op.name;
  }
}

// --- the reference servicer answers as the host does --------------------------------

// Requests sent, in this order, to the host and to the reference servicer
// (each over its own empty store). An answer is {:ok value} or {:error
// message :data data}. Ops the script leaves out are in kNotCompared, with
// the reason.
constexpr const char* kScript = R"SX(
(define (ev seq &rest more) (merge {:stream "s" :seq seq :type "t" :at 1 :data seq} (or (first more) {})))
(define script
  (list
   ;; append, and the checks of its arguments and event
   (list "persist/append" "s" (ev 1))
   (list "persist/append" "s" (ev 1))
   (list "persist/append" "s" (ev 0))
   (list "persist/append" "s" {:seq 2 :stream "x"})
   (list "persist/append" "s" {:seq 2 :stream :s})
   (list "persist/append" "s" (ev 2 {:at "noon"}))
   (list "persist/append" "s" 5)
   (list "persist/append" 42 (ev 2))
   (list "persist/append" :s (ev 2))
   (list "persist/append" "s")
   (list "persist/append" "s" (ev 2 {:data (fn () 1)}))
   (list "persist/append" "s" (ev 2))
   ;; reads
   (list "persist/read" "s")
   (list "persist/read" "s" 2)
   (list "persist/read" "s" -5 1)
   (list "persist/read" "s" 0 -1)
   (list "persist/read")
   (list "persist/read" "s" "x")
   (list "persist/read" "none")
   (list "persist/read-range" "s" 1 10)
   (list "persist/read-range" "s" 0 1)
   (list "persist/read-range" "s" 1 -1)
   (list "persist/read-range" "s" 1)
   (list "persist/last-seq" "s")
   (list "persist/last-seq" "none")
   (list "persist/last-seq" 1)
   (list "persist/last-seq" "s" "t")
   ;; the atomic appends
   (list "persist/append-next" "s" "t" 5 {:x 1})
   (list "persist/append-next" "n" :kw nil nil)
   (list "persist/append-next" "s" "t" "noon" nil)
   (list "persist/append-next" "s" "t" 1)
   (list "persist/append-expect" "s" 3 (ev 4))
   (list "persist/append-expect" "s" 0 (ev 5))
   (list "persist/append-expect" "s" -1 (ev 5))
   (list "persist/append-expect" "s" 4 5)
   (list "persist/append-expect" "s" 4 (ev 4))
   (list "persist/append-expect" "s" "4" (ev 5))
   (list "persist/append-expect" "s" 0 (ev 0))
   (list "persist/append-batch" "b" (list (ev 1 {:stream "b"}) (ev 2 {:stream "b"})))
   (list "persist/append-batch" "b" (list (ev 3 {:stream "b"})) 0)
   (list "persist/append-batch" "b" (list (ev 3 {:stream "b"})) 2)
   (list "persist/append-batch" "b" (list (ev 1 {:stream "b"})))
   (list "persist/append-batch" "b" (list (ev 4 {:stream "b"}) (ev 4 {:stream "b"})))
   (list "persist/append-batch" "b" (list (ev 5 {:stream "x"})))
   (list "persist/append-batch" "b" ())
   (list "persist/append-batch" "b" 5)
   (list "persist/append-batch" "b")
   (list "persist/truncate-through" "s" 2)
   (list "persist/truncate-through" "s" 0)
   (list "persist/truncate-through" "s" 99)
   (list "persist/truncate-through" "ghost" 3)
   (list "persist/truncate-through" "s" "x")
   (list "persist/read" "s")
   (list "persist/last-seq" "s")
   (list "persist/append" "s" (ev 5))
   (list "persist/streams")
   (list "persist/streams" 1)
   ;; kv
   (list "persist/kv-put" "k" 1)
   (list "persist/kv-put" "l" {:a (list 1 2)})
   (list "persist/kv-put" :k 1)
   (list "persist/kv-put" "f" (fn () 1))
   (list "persist/kv-get" "k")
   (list "persist/kv-get" "l")
   (list "persist/kv-get" "nope")
   (list "persist/kv-get" 5)
   (list "persist/kv-has?" "k")
   (list "persist/kv-has?" "nope")
   (list "persist/kv-keys")
   (list "persist/kv-cas" "k" 1 2)
   (list "persist/kv-cas" "k" 7 3)
   (list "persist/kv-cas" "k" 99 (fn () 1))
   (list "persist/kv-cas" "new" nil 1)
   (list "persist/kv-cas" "new2" 5 1)
   (list "persist/kv-cas" "k" 2 (fn () 1))
   (list "persist/kv-put-new" "k" 5)
   (list "persist/kv-put-new" "k2" 5)
   (list "persist/kv-put-new" "k3" (fn () 1))
   (list "persist/kv-delete" "k2")
   (list "persist/kv-delete" "absent")
   (list "persist/kv-delete" nil)
   (list "persist/kv-keys")
   ;; commit
   (list "persist/commit" (list {:op "append" :stream "c" :event (ev 1 {:stream "c"})}
                                {:op "kv-put" :key "ck" :value 1}
                                {:op "kv-delete" :key "l"}
                                {:op "truncate" :stream "s" :seq 3}))
   (list "persist/commit" (list {:op "append-expect" :stream "c" :expected 0 :event (ev 2 {:stream "c"})}))
   (list "persist/commit" (list {:op "append" :stream "c" :event (ev 1 {:stream "c"})}))
   (list "persist/commit" (list {:op "append-expect" :stream "c" :expected 1 :event (ev 2 {:stream "c"})}
                                {:op "kv-cas" :key "ck" :expected 1 :value 2}))
   (list "persist/commit" (list {:op "kv-put" :key "ck" :value 5}
                                {:op "kv-cas" :key "ck" :expected 1 :value 2}))
   (list "persist/commit" (list {:op "kv-cas" :key "absent" :expected {:a 1} :value 2}))
   (list "persist/commit" (list {:op "kv-cas" :key "ck" :expected nil :value 2}))
   (list "persist/commit" (list {:op "kv-delete" :key "ck"}
                                {:op "kv-cas" :key "ck" :expected 1 :value 2}))
   (list "persist/commit" (list 5))
   (list "persist/commit" (list {:op "frob"}))
   (list "persist/commit" (list {:op "append" :stream 5 :event (ev 1)}))
   (list "persist/commit" (list {:op "append" :stream "s" :event 5}))
   (list "persist/commit" (list {:op "append" :stream "s" :event {:seq 0}}))
   (list "persist/commit" (list {:op "append" :stream "s" :event {:seq 9 :stream "t"}}))
   (list "persist/commit" (list {:op "append" :stream "s" :event {:seq 9 :at "noon"}}))
   (list "persist/commit" (list {:op "append-expect" :stream "s" :expected -1 :event {:seq 9}}))
   (list "persist/commit" (list {:op "append-expect" :stream "s" :expected "x" :event {:seq 9}}))
   (list "persist/commit" (list {:op "kv-put" :key 5 :value 1}))
   (list "persist/commit" (list {:op "kv-put" :key "k" :value (fn () 1)}))
   (list "persist/commit" (list {:op "kv-cas" :key :k :expected 1 :value 2}))
   (list "persist/commit" (list {:op "truncate" :stream "s" :seq "x"}))
   (list "persist/commit" (list {:op "kv-delete"}))
   (list "persist/commit" (list {:op "append" :stream "m" :event {:seq 1}}
                                {:op "append" :stream "m" :event {:seq 1}}))
   (list "persist/commit" ())
   (list "persist/commit" 5)
   (list "persist/commit")
   (list "persist/read" "c")
   (list "persist/kv-get" "ck")
   (list "persist/kv-keys")
   (list "persist/streams")
   ;; upkeep
   (list "persist/sync")
   (list "persist/compact")
   (list "persist/sync" 1)
   ;; blobs
   (list "blob/put" "bytes")
   (list "blob/put" "bytes" "text/plain")
   (list "blob/put" "bytes" nil)
   (list "blob/put" 1)
   (list "blob/put" "b" 42)
   (list "blob/put")
   (list "blob/has?" "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
   (list "blob/get" "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
   (list "blob/has?" (perform {:op "blob/cid" :args (list "bytes")}))
   (list "blob/get" (perform {:op "blob/cid" :args (list "bytes")}))
   (list "blob/get" 5)
   (list "blob/has?")))

(define (answer f op args)
  (guard (e ((error? e) {:error (error-message e) :data (error-data e)}))
    {:ok (f {:op op :args args})}))

(define disk (persist/mem-disk))
(define blob-disk (persist/mem-disk))
(define (reference req)
  (if (starts-with? (get req :op) "blob/")
      (persist/blob-serve blob-disk req)
      (persist/serve disk req)))

(define mismatches
  (filter (fn (x) x)
          (map (fn (req)
                 (let ((host (answer (fn (r) (perform r)) (first req) (rest req)))
                       (ref (answer reference (first req) (rest req))))
                   (if (= host ref) nil (list req :host host :reference ref))))
               script)))
)SX";

// Ops not in the script: their answers differ by design.
const std::map<std::string, std::string> kNotCompared = {
    {"persist/stats", "the engines keep different counters"},
    {"persist/ops", "compared by PersistTable.TheReferenceServesTheHostsPersistOps"},
    {"blob/cid", "the reference asks the host for cids"},
    {"persist/wait", "the position is each engine's own; the errors are in follow.sx"},
};

class ReferenceServicer : public ::testing::Test {
 protected:
  ReferenceServicer() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sx-table-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    sx::host::HostOptions opts;
    opts.data_dir = dir_ + "/data";
    opts.sync = "never";
    host_ = std::make_unique<sx::host::Host>(opts);
  }
  ~ReferenceServicer() override {
    host_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Value(const std::string& src) {
    sx::Interpreter& in = host_->interp();
    sx::Outcome o = in.Run(in.Eval(src));
    EXPECT_EQ(o.status, sx::Status::kDone) << o.error_text.substr(0, 2000);
    return o.status == sx::Status::kDone ? o.value.Inspect() : "<error>";
  }

  std::string dir_;
  std::unique_ptr<sx::host::Host> host_;
};

TEST_F(ReferenceServicer, AnswersEveryRequestOfTheScriptAsTheHostDoes) {
  Value("(import persist)");
  Value(kScript);
  std::string mismatches = Value("mismatches");
  EXPECT_EQ(mismatches, "()") << "requests answered differently:\n" << mismatches;
  // Every op of the table is in the script or set aside with a reason.
  std::string scripted = Value("(map first script)");
  for (const OpSpec& op : sx::host::PersistOps()) {
    std::string quoted = std::string(1, '"').append(op.name).append(1, '"');
    bool in_script = scripted.find(quoted) != std::string::npos;
    EXPECT_TRUE(in_script || kNotCompared.count(op.name) > 0)
        << op.name << " is neither in the script nor in kNotCompared";
  }
}

// The table as SX data, in the shape of persist/%op-args (durable.sx).
std::string TableAsSx() {
  std::string out = "{";
  for (const OpSpec& op : sx::host::PersistOps()) {
    out.append("\"").append(op.name).append("\" (list");
    for (const sx::host::ArgSpec& a : op.args) {
      if (a.name == nullptr) break;
      const char* kind = a.kind == sx::host::ArgKind::kString        ? ":string"
                         : a.kind == sx::host::ArgKind::kInt         ? ":int"
                         : a.kind == sx::host::ArgKind::kList        ? ":list"
                         : a.kind == sx::host::ArgKind::kStringOrNil ? ":string-or-nil"
                                                                     : ":any";
      out.append(" (list \"").append(a.name).append("\" ").append(kind);
      out.append(a.optional ? " :optional)" : ")");
    }
    out.append(") ");
  }
  return out + "}";
}

TEST_F(ReferenceServicer, DeclaresTheArgumentsOfTheHostsTable) {
  Value("(import persist)");
  std::string table = TableAsSx();
  EXPECT_EQ(Value("(= persist/%op-args " + table + ")"), "true")
      << "persist/%op-args in stdlib/persist/durable.sx: " << Value("persist/%op-args")
      << "\nthe host's table: " << Value(table);
}

TEST_F(ReferenceServicer, ServesTheHostsPersistOps) {
  Value("(import persist)");
  EXPECT_EQ(Value("(sort (filter (fn (op) (starts-with? op \"persist/\")) "
                  "(perform {:op \"persist/ops\" :args ()})))"),
            Value("(persist/serve (persist/mem-disk) {:op \"persist/ops\" :args ()})"));
  EXPECT_EQ(Value("(filter (fn (op) (starts-with? op \"blob/\")) "
                  "(perform {:op \"persist/ops\" :args ()}))"),
            "(\"blob/put\" \"blob/get\" \"blob/has?\" \"blob/cid\")");
}

}  // namespace
