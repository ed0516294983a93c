// repl.cc — prompts, multi-line input through the push parser, results.
#include "host/repl.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

namespace sx::host {

namespace {

Interpreter* g_running = nullptr;

void OnInterrupt(int) {
  if (g_running != nullptr) g_running->Interrupt();
}

}  // namespace

int RunRepl(Host& host, bool interactive) {
  Interpreter& in = host.interp();
  g_running = &in;
  if (interactive) {
    std::signal(SIGINT, OnInterrupt);
    std::cout << "sx " << Version() << " — Ctrl-D to exit\n";
  }
  int status = 0;
  auto parser = std::make_unique<Parser>(in, "<stdin>");
  std::string line;
  for (;;) {
    if (interactive) std::cout << (parser->NeedsMore() ? "  ... " : "sx> ") << std::flush;
    bool got = static_cast<bool>(std::getline(std::cin, line));
    if (got) {
      line += '\n';
      parser->Feed(line);
    } else {
      parser->Finish();
    }
    for (;;) {
      Value form;
      std::string error;
      Parser::Result r = parser->Next(&form, &error);
      if (r == Parser::Result::kForm) {
        Outcome o = in.Run(in.EvalForm(form, "<stdin>"));
        if (o.status == Status::kDone) {
          std::cout << o.value.Inspect() << "\n";
        } else {
          std::cerr << o.error_text << "\n";
          status = 1;
        }
        continue;
      }
      if (r == Parser::Result::kError) {
        std::cerr << error << "\n";
        status = 1;
        parser = std::make_unique<Parser>(in, "<stdin>");
      }
      break;
    }
    if (!got) break;
  }
  if (interactive) std::cout << "\n";
  g_running = nullptr;
  return interactive ? 0 : status;
}

}  // namespace sx::host
