// ledger.cc — a complete program embedding the SX interpreter.
//
// The host adds a native (`fee`), serves one kind of request itself
// (`ledger/rate`), and runs a script that performs it from inside `map`.
// Built and run by the tests (ctest: embed.example).
#include <cstdio>
#include <string>

#include "sx/sx.h"

int main() {
  sx::Interpreter in;

  // A native: plain C++ called from SX. Errors are raised by throwing sx::Error.
  in.DefineNative("fee", 1, 1, "(fee amount) — the fee charged on an amount, in cents.",
                  [](sx::Interpreter& in, std::span<const sx::Value> args) {
                    if (!args[0].IsInt()) throw sx::Error("fee: argument 1 must be an integer");
                    return in.Int(args[0].AsInt() / 100 + 25);
                  });

  // An IO handler: serves requests the script makes with `perform`.
  in.AddIoHandler(
      [](sx::Interpreter& in, std::string_view op, const sx::Value& args, const sx::Value&) {
        if (op != "ledger/rate") return sx::IoResult::Pass();
        std::string currency = args.Items().at(0).AsString();
        if (currency == "EUR") return sx::IoResult::Served(in.Float(1.08));
        if (currency == "USD") return sx::IoResult::Served(in.Float(1.0));
        return sx::IoResult::Failed("ledger/rate: unknown currency " + currency);
      });

  const char* script = R"(
    (define (rate currency) (perform {:op "ledger/rate" :args (list currency)}))
    (define entries (list {:amount 1000 :currency "EUR"} {:amount 250 :currency "USD"}))
    (define (in-usd e) (* (get e :amount) (rate (get e :currency))))
    {:total (reduce + 0 (map in-usd entries))
     :fees (map (fn (e) (fee (get e :amount))) entries)
     :unknown (guard (err (true (error-message err))) (rate "XYZ"))}
  )";

  // Run feeds every suspension to the handlers and resumes until done.
  sx::Outcome result = in.Run(in.Eval(script, "ledger.sx"));
  if (result.status != sx::Status::kDone) {
    std::fprintf(stderr, "%s\n", result.error_text.c_str());
    return 1;
  }
  std::printf("%s\n", result.value.Inspect().c_str());
  std::printf("total: %.2f\n", result.value.Get("total").AsDouble());
  return 0;
}
