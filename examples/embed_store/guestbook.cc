// guestbook.cc — a program that keeps its state in a durable store.
//
//   guestbook [--sync always|batch|never] DIR NAME
//
// Each run signs NAME into the guestbook kept in DIR: a script appends a
// "signed" event to the stream "guestbook" with the persist library and
// folds the stream into the list of names, which the program prints. Run it
// twice on one DIR and the second run sees the first one's signature.
// Built out of tree against the installed sx package (see CMakeLists.txt
// and docs/embedding.md); scripts/embed_test.sh does so in CI.
#include <sx/persist.h>
#include <sx/sx.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

namespace {

const char* kScript = R"(
  (import persist)
  (define store (persist/durable-backend))
  (persist/append store "guestbook" "signed" *now* {:name *visitor*})
  (persist/project store "guestbook"
                   (fn (names e) (append names (list (get (persist/event-data e) :name))))
                   (list))
)";

int Usage() {
  std::fprintf(stderr, "usage: guestbook [--sync always|batch|never] DIR NAME\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sx::StoreOptions options;
  int i = 1;
  if (i + 1 < argc && std::string(argv[i]) == "--sync") {
    if (!sx::ParseSyncMode(argv[i + 1], &options.sync)) {
      std::fprintf(stderr, "guestbook: --sync: unknown mode \"%s\" (use always, batch or never)\n",
                   argv[i + 1]);
      return 2;
    }
    i += 2;
  }
  if (argc - i != 2) return Usage();
  options.dir = argv[i];

  // The store is opened here, so a locked or damaged directory is an error
  // before any script runs.
  std::string error;
  std::unique_ptr<sx::DurableStore> store = sx::DurableStore::Open(options, &error);
  if (!store) {
    std::fprintf(stderr, "guestbook: %s\n", error.c_str());
    return 1;
  }
  sx::Interpreter in;
  store->Attach(in);  // persist/* and blob/* ops, and (import persist)

  // The script reads no clock: the host hands it the time and the name.
  in.Define("*now*", in.Int(static_cast<int64_t>(std::time(nullptr))));
  in.Define("*visitor*", in.String(argv[i + 1]));

  sx::Outcome result = in.Run(in.Eval(kScript, "guestbook.sx"));
  if (result.status != sx::Status::kDone) {
    std::fprintf(stderr, "%s\n", result.error_text.c_str());
    return 1;
  }
  // A projection state: {:seq <last seq folded> :value <the names>}.
  std::printf("%s\n", result.value.Inspect().c_str());
  std::string names;
  for (const sx::Value& name : result.value.Get("value").Items()) {
    names += (names.empty() ? "" : ", ") + name.AsString();
  }
  std::printf("%lld signatures: %s\n", static_cast<long long>(result.value.Get("seq").AsInt()),
              names.c_str());
  return 0;
}
