// codec_bench: what encoding and decoding one stored value costs, the
// binary codec (host/ops/value_codec.h) against the interpreter's text form
// (Interpreter::Serialize and Deserialize) in the same run.
//
//   build/codec_bench [--quick]
//
// The value is an event as the benchmarks append it: a dict of a seq and a
// 200-byte string. Each figure is the best of 5 rounds, in ns per value.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "host/ops/value_codec.h"
#include "sx/sx.h"

namespace {

using Clock = std::chrono::steady_clock;

// The best of 5 rounds of n calls of fn, in ns per call.
double BestNs(int n, const std::function<void()>& fn) {
  double best = 1e18;
  for (int round = 0; round < 5; ++round) {
    Clock::time_point start = Clock::now();
    for (int i = 0; i < n; ++i) fn();
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
    best = std::min(best, ns);
  }
  return best;
}

void Die(const std::string& what) {
  std::fprintf(stderr, "codec_bench: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 200000;
  if (argc > 1 && std::strcmp(argv[1], "--quick") == 0) {
    n = 20000;
  } else if (argc > 1) {
    std::puts("usage: codec_bench [--quick]");
    return std::strcmp(argv[1], "--help") == 0 ? 0 : 1;
  }
  sx::Interpreter in;
  sx::Outcome o = in.Run(in.Eval("{:seq 12345 :p \"" + std::string(200, 'p') + "\"}", "<bench>"));
  if (o.status != sx::Status::kDone) Die(o.error_text);
  sx::Value event = o.value;
  std::string binary, text, why;
  if (!sx::host::EncodeValue(in, event, &binary, &why)) Die(why);
  if (!in.Serialize(event, &text, &why)) Die(why);

  double encode = BestNs(n, [&] {
    std::string out;
    if (!sx::host::EncodeValue(in, event, &out, &why)) Die(why);
  });
  double serialize = BestNs(n, [&] {
    std::string out;
    if (!in.Serialize(event, &out, &why)) Die(why);
  });
  double decode = BestNs(n, [&] {
    sx::Value v;
    if (!sx::host::DecodeValue(in, binary, &v, &why)) Die(why);
  });
  double deserialize = BestNs(n, [&] {
    sx::Value v;
    if (!in.Deserialize(text, &v, &why)) Die(why);
  });
  std::printf("codec_bench: a dict of a seq and a 200-byte string (%zu bytes binary, %zu text)\n",
              binary.size(), text.size());
  std::printf("  encode       %8.0f ns   Serialize    %8.0f ns   %.2fx\n", encode, serialize,
              serialize / encode);
  std::printf("  decode       %8.0f ns   Deserialize  %8.0f ns   %.2fx\n", decode, deserialize,
              deserialize / decode);
  return 0;
}
