// restorekit-sample: writes the sample CRM application (see sample.hpp) for the demo, tests
// and benchmarks.
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <restorekit/sample/sample.hpp>

int main(int argc, char** argv) {
  restorekit::sample::SampleOptions o;
  CLI::App app{"Generate the restorekit sample application (database + documents + live copy)"};
  std::string out;
  bool no_live = false;
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--rows", o.rows, "total database rows (1000..5000000)")->capture_default_str();
  app.add_option("--docs", o.documents, "number of documents")->capture_default_str();
  app.add_option("--doc-bytes", o.document_bytes, "average document size")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_flag("--no-live", no_live, "do not write the mutated live variant");
  CLI11_PARSE(app, argc, argv);
  o.out_dir = out;
  o.live = !no_live;
  auto r = restorekit::sample::generate_sample(o);
  if (!r) {
    fmt::print(stderr, "restorekit-sample: {}\n", r.error().message);
    return 2;
  }
  fmt::print(
      "sample: {} rows in {}, {} documents ({} bytes) in {}{}\n", r->rows, r->database.string(),
      r->document_files, r->document_bytes, r->documents.string(),
      o.live ? fmt::format("; live copy in {}", r->live_database.parent_path().string()) : "");
  return 0;
}
