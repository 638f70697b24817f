// fastgdml_bench_predict: prediction latency and throughput of the core's Predictor, without Python.
//
// Single geometry: one predict call per geometry, as an MD step makes it (the core's small-batch path, single-job
// BLAS). Batch: B geometries in one call (tiled, multi-threaded GEMMs). Both after a warm-up call, repeated, with
// medians and minima. --verify compares energies and forces, batched and one at a time, with numbers that
// Model.predict wrote (bench/cpp/make_reference.py), so a fast number is also a right one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"
#include "fastgdml/io/model_file.hpp"
#include "fastgdml/io/npz_reader.hpp"
#include "fastgdml/predictor.hpp"

using namespace fastgdml;
using namespace fastgdml::bench;

namespace {

const char* kUsage = R"(usage: fastgdml_bench_predict MODEL.npz [options]

Prediction speed of the fastgdml core (no Python): single-geometry latency (one call per geometry, as in MD)
and batched throughput of Predictor::predict, on an sGDML or fastgdml model file.

options:
  --geometries FILE  geometries to predict: an .npz with key R (M, N, 3) or a raw float64 .bin of M*N*3
                     values, in the model's length unit. Default: the R of --verify's file, else
                     MODEL_predictions.npz beside the model (the tests/data fixtures' naming)
  --batch B          geometries per batched call (default 100; 0 skips the batch); taken cyclically from the
                     geometries when there are fewer
  --single S         geometries predicted one call each per repeat (default 100; 0 skips)
  --repeats K        timed repeats of each measurement, at least (default 5)
  --min-time T       seconds each measurement runs at least, repeating (default 1.0; 0: exactly K repeats)
  --threads T        OpenMP and BLAS threads (default: OMP_NUM_THREADS or all cores)
  --verify REF.npz   compare E (B) and F (B, N, 3) with REF's (keys R, E, F, from make_reference.py), predicted
                     in one batch and one geometry at a time: exit status 1 when the relative difference
                     (E per geometry, F against max |F_ref|) exceeds 1e-10
  --json OUT.json    write configuration, machine and results as JSON
  -h, --help         this text

Times are wall-clock seconds (printed in us or ms); throughput in geometries per second.
Exit status: 0 ok, 1 verification failed, 2 bad input (message names the file or flag).
)";

constexpr double kTolerance = 1e-10;

struct Reference {
  std::int64_t count = 0;
  std::vector<double> R, E, F;
};

Reference read_reference(const std::string& path, int n_atoms) {
  Reference ref;
  ref.R = read_geometries(path, n_atoms, ref.count);
  io::NpzArchive archive(path, io::file_budget());
  io::NpyArray E = archive.read("E"), F = archive.read("F");
  if (E.shape != std::vector<std::int64_t>{ref.count})
    throw InputError(path + ": 'E' must have shape (" + std::to_string(ref.count) + ",) like R");
  if (F.shape != std::vector<std::int64_t>{ref.count, n_atoms, 3})
    throw InputError(path + ": 'F' must have the shape of R");
  ref.E = io::to_doubles(E, path + ": 'E'");
  ref.F = io::to_doubles(F, path + ": 'F'");
  return ref;
}

// Largest relative differences: energies per geometry, forces against the largest reference force component.
struct Agreement {
  double energy = 0.0, force = 0.0;
  bool ok() const { return energy <= kTolerance && force <= kTolerance; }
};

Agreement compare(const std::vector<double>& E, const std::vector<double>& F, const Reference& ref) {
  Agreement a;
  double f_scale = 0.0;
  for (double f : ref.F) f_scale = std::max(f_scale, std::abs(f));
  for (std::size_t i = 0; i < E.size(); ++i)
    a.energy = std::max(a.energy, std::abs(E[i] - ref.E[i]) / std::max(std::abs(ref.E[i]), 1e-300));
  for (std::size_t i = 0; i < F.size(); ++i) a.force = std::max(a.force, std::abs(F[i] - ref.F[i]) / f_scale);
  // NaN never passes: a comparison with NaN is false, so make it explicit.
  if (!std::isfinite(a.energy)) a.energy = INFINITY;
  if (!std::isfinite(a.force)) a.force = INFINITY;
  return a;
}

std::string default_geometries(const std::string& model) {
  const std::string stem = model.size() > 4 && model.compare(model.size() - 4, 4, ".npz") == 0
                               ? model.substr(0, model.size() - 4) : model;
  return stem + "_predictions.npz";
}

int run(int argc, char** argv) {
  Args args(argc, argv, {"--geometries", "--batch", "--single", "--repeats", "--min-time", "--threads", "--verify",
                         "--json"}, {});
  if (args.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positional().size() != 1) throw InputError("give exactly one MODEL.npz (see --help)");
  const std::string model_path = args.positional()[0];
  const std::int64_t batch = args.integer("--batch", 100, 0), single = args.integer("--single", 100, 0);
  const int repeats = static_cast<int>(args.integer("--repeats", 5, 1));
  const double min_time = args.real("--min-time", 1.0, 0.0);
  if (args.has("--json")) check_writable(args.text("--json"));
  const Machine host = machine(static_cast<int>(args.integer("--threads", 0, 1)));

  // The model, read and checked by the core's own reader (errors name the file and the key).
  const io::ModelFile model = io::read_model(model_path);
  const int N = static_cast<int>(model.z.size());
  const std::int64_t n_train = static_cast<std::int64_t>(model.data.X.size()) / model.layout.size();
  const std::int64_t G = static_cast<std::int64_t>(model.data.perms.size()) / N;
  const Predictor predictor(model.layout, model.lattice, model.data);

  Reference ref;
  if (args.has("--verify")) ref = read_reference(args.text("--verify"), N);
  std::string geometry_path = args.text("--geometries");
  if (geometry_path.empty()) geometry_path = args.has("--verify") ? args.text("--verify") : default_geometries(model_path);
  if (!args.has("--geometries") && !args.has("--verify") && !file_exists(geometry_path))
    throw InputError("no geometries: give --geometries R.npz or --verify REF.npz (" + geometry_path +
                     " does not exist)");
  std::int64_t M = 0;
  const std::vector<double> R = read_geometries(geometry_path, N, M);
  const std::int64_t per = 3 * static_cast<std::int64_t>(N);

  std::printf("fastgdml_bench_predict\n  machine: %s\n", host.line().c_str());
  std::printf("  model: %s (N = %d atoms, n_train = %lld, G = %lld permutations, D = %lld features%s)\n",
              model_path.c_str(), N, static_cast<long long>(n_train), static_cast<long long>(G),
              static_cast<long long>(model.layout.size()), model.lattice.present ? ", periodic" : "");
  std::printf("  geometries: %s (%lld); single %lld one-geometry calls per repeat, batch %lld; >= %d repeats and "
              ">= %.2f s per measurement\n", geometry_path.c_str(), static_cast<long long>(M),
              static_cast<long long>(single), static_cast<long long>(batch), repeats, min_time);

  Json out;
  out.set("benchmark", "predict").set("machine", host.json());
  Json& in = out.object("inputs");
  in.set("model", model_path).set("n_atoms", N).set("n_train", n_train).set("n_perms", G);
  in.set("descriptor_size", static_cast<std::int64_t>(model.layout.size())).set("periodic", model.lattice.present);
  in.set("geometries", geometry_path).set("n_geometries", M).set("single", single).set("batch", batch);
  in.set("repeats", repeats).set("min_time_s", min_time);
  Json& res = out.object("results");

  if (single > 0) {
    // One call per geometry. Each call is also timed alone: the median call is the latency an MD step sees,
    // the loop's mean includes the occasional slow call (page fault, a neighbour's process).
    std::vector<double> E(1), F(per), calls;
    const Timing loops = time_calls([&] {
      for (std::int64_t s = 0; s < single; ++s) {
        const auto t0 = std::chrono::steady_clock::now();
        predictor.predict(1, R.data() + (s % M) * per, E.data(), F.data());
        calls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }, repeats, min_time);
    calls.erase(calls.begin(), calls.begin() + single);  // the warm-up loop's calls
    Timing per_geometry, per_call{calls};
    for (double t : loops.seconds) per_geometry.seconds.push_back(t / static_cast<double>(single));
    std::printf("single geometry: median %.1f us/geometry (min %.1f us) over %zu repeats of %lld calls; "
                "median call %.1f us, fastest %.1f us; %.0f geometries/s\n",
                1e6 * per_geometry.median(), 1e6 * per_geometry.min(), loops.seconds.size(),
                static_cast<long long>(single), 1e6 * per_call.median(), 1e6 * per_call.min(),
                1.0 / per_geometry.median());
    Json& s = res.object("single");
    s.set("per_geometry", per_geometry).set("call_median_s", per_call.median()).set("call_min_s", per_call.min());
    s.set("calls", static_cast<std::int64_t>(calls.size())).set("geometries_per_s", 1.0 / per_geometry.median());
  }

  if (batch > 0) {
    std::vector<double> Rb(static_cast<std::size_t>(batch * per)), E(batch), F(batch * per);
    for (std::int64_t b = 0; b < batch; ++b)
      std::copy_n(R.data() + (b % M) * per, per, Rb.data() + b * per);
    const Timing t = time_calls([&] { predictor.predict(batch, Rb.data(), E.data(), F.data()); }, repeats, min_time);
    std::printf("batch of %lld: median %.3f ms (min %.3f ms) over %zu repeats = %.1f us/geometry, "
                "%.0f geometries/s\n", static_cast<long long>(batch), 1e3 * t.median(), 1e3 * t.min(),
                t.seconds.size(), 1e6 * t.median() / static_cast<double>(batch),
                static_cast<double>(batch) / t.median());
    Json& b = res.object("batch");
    b.set("size", batch).set("time", t).set("geometries_per_s", static_cast<double>(batch) / t.median());
  }

  int status = 0;
  if (args.has("--verify")) {
    const std::int64_t B = ref.count;
    std::vector<double> E(B), F(B * per), E1(B), F1(B * per);
    predictor.predict(B, ref.R.data(), E.data(), F.data());
    for (std::int64_t b = 0; b < B; ++b) predictor.predict(1, ref.R.data() + b * per, E1.data() + b, F1.data() + b * per);
    const Agreement batched = compare(E, F, ref), one_by_one = compare(E1, F1, ref);
    const bool ok = batched.ok() && one_by_one.ok();
    std::printf("verify against %s (%lld geometries): batched dE %.1e, dF %.1e; one at a time dE %.1e, dF %.1e "
                "(relative; tolerance %.0e): %s\n", args.text("--verify").c_str(), static_cast<long long>(B),
                batched.energy, batched.force, one_by_one.energy, one_by_one.force, kTolerance,
                ok ? "ok" : "FAILED");
    Json& v = res.object("verify");
    v.set("reference", args.text("--verify")).set("geometries", B).set("tolerance", kTolerance);
    v.set("batch_max_rel_dE", batched.energy).set("batch_max_rel_dF", batched.force);
    v.set("single_max_rel_dE", one_by_one.energy).set("single_max_rel_dF", one_by_one.force).set("passed", ok);
    if (!ok) status = 1;
  }
  if (args.has("--json")) write_json(args.text("--json"), out);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("fastgdml_bench_predict", [&] { return run(argc, argv); });
}
