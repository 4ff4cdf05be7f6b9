// zoo's compiled CPU recurrent loop: SimpleRNN (tanh), LSTM (peepholes, cell
// clipping) and GRU (reset after or before the recurrent product), forward
// and backward.
//
// Built on the user's machine by zoo.kernels.build with TensorFlow's own
// headers and flags; zoo.kernels.rnn wraps the two ops with their gradient.
// The input projection x W + b is computed outside (one large GEMM); these
// ops run only the part that is sequential in time: h_{t-1} U, the gates
// and the state update. Rows never interact, so each thread runs a block of
// rows through every step, with no synchronisation between steps.
//
// Shapes (B batch, T time, H units, G gates: 4 for the LSTM, 3 for the GRU,
// 1 for the SimpleRNN):
//   xproj     [B, T, G*H]  x_t W, in input order
//   bias      [G*H] or [0] the input bias b, added to xproj in the loop
//             (its gradient, the sum of d_xproj, comes out of the
//             backward pass while each row is in cache)
//   h0, c0    [B, H]       initial states (c0 is ignored by the GRUs)
//   kernel    [H, G*H]     the recurrent kernel U
//   extra     LSTM: [3, H] peephole weights (p_i, p_f, p_o) or [0, H];
//             GRU, reset after: [G*H] bias of the recurrent product;
//             GRU, reset before, and SimpleRNN: [0]
//   mask      [B, T]       1 for real steps, 0 for padded (input order)
//   dropout   [B, H]       recurrent dropout multiplier of h_{t-1}, or [0, H]
// Outputs are in processing order (reversed with go_backwards): step k reads
// input t = T - 1 - k. A padded step carries the state and outputs zeros.
// The workspace [B, T, W] keeps per processing step what the backward pass
// needs; its last H columns are the hidden state after the step. The
// backward op gives the gradients of xproj, the bias, h0, c0, the kernel
// and extra.

#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/Core>

#ifdef ZOO_OPENBLAS
#include <cblas.h>
#endif

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace zoo {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

using Matrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::Map<Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstStrided =
    Eigen::Map<const Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;

enum Kind { kLstm, kGruAfter, kGruBefore, kSimple };

// Rows of a block at least this many, so that a thread's GEMM is worth it.
constexpr int64_t kMinBlockRows = 8;

Kind ParseKind(const std::string& kind) {
  if (kind == "lstm") return kLstm;
  if (kind == "gru_after") return kGruAfter;
  if (kind == "simple") return kSimple;
  return kGruBefore;
}

int Gates(Kind kind) {
  switch (kind) {
    case kLstm:
      return 4;
    case kSimple:
      return 1;
    default:
      return 3;
  }
}

// The LSTM and the SimpleRNN keep their state in the workspace and run
// each row in one pass; the GRUs step by step on whole blocks.
bool InWorkspace(Kind kind) { return kind == kLstm || kind == kSimple; }

// Workspace columns per step, in units of H.
int WorkspaceBlocks(Kind kind) {
  switch (kind) {
    case kLstm:  // i, f, g, o, c unclipped, c, h
      return 7;
    case kGruAfter:  // z, r, n, (h_{t-1} U + b)_n, h
      return 5;
    case kGruBefore:  // z, r, n, h
      return 4;
    case kSimple:  // h
      return 1;
  }
  return 0;
}

// c[m, n] = op(a) @ op(b) + beta * c, op(a) [m, k] and op(b) [k, n]; a is
// stored [k, m] with transpose_a and b [n, k] with transpose_b. Row-major,
// with leading dimensions; beta is 0 or 1. OpenBLAS (the scipy-openblas32
// package) where zoo.kernels.build found it, else Eigen.
void Gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb,
          float beta, float* c, int64_t ldc) {
#ifdef ZOO_OPENBLAS
  scipy_cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                    transpose_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
                    lda, b, ldb, beta, c, ldc);
#else
  Strided c_map(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == 0.0f) c_map.setZero();
  ConstStrided a_map(a, transpose_a ? k : m, transpose_a ? m : k,
                     Eigen::OuterStride<>(lda));
  ConstStrided b_map(b, transpose_b ? n : k, transpose_b ? k : n,
                     Eigen::OuterStride<>(ldb));
  if (transpose_a && transpose_b) {
    c_map.noalias() += a_map.transpose() * b_map.transpose();
  } else if (transpose_a) {
    c_map.noalias() += a_map.transpose() * b_map;
  } else if (transpose_b) {
    c_map.noalias() += a_map * b_map.transpose();
  } else {
    c_map.noalias() += a_map * b_map;
  }
#endif
}

#ifdef ZOO_OPENBLAS
// Each row block is one thread's work already: OpenBLAS must not start
// threads of its own.
const bool kOneBlasThread = [] {
  scipy_openblas_set_num_threads(1);
  return true;
}();
#endif

// Eigen's logistic function: the one TensorFlow's sigmoid computes.
template <typename T>
auto Sigmoid(const T& x) {
  return x.logistic();
}

// `cols` columns from `offset` of rows [start, start + rows) of the
// [B, T, width] tensor `base` at time t.
ConstStrided Block(const float* base, int64_t start, int64_t rows, int64_t t,
                   int64_t time, int64_t width, int64_t offset, int64_t cols) {
  return ConstStrided(base + (start * time + t) * width + offset, rows, cols,
                      Eigen::OuterStride<>(time * width));
}

// Rows [start, limit) of the [B, T, width] tensor `base` at time t.
ConstStrided Rows(const float* base, int64_t start, int64_t rows, int64_t t,
                  int64_t time, int64_t width) {
  return ConstStrided(base + (start * time + t) * width, rows, width,
                      Eigen::OuterStride<>(time * width));
}
Strided Rows(float* base, int64_t start, int64_t rows, int64_t t, int64_t time,
             int64_t width) {
  return Strided(base + (start * time + t) * width, rows, width,
                 Eigen::OuterStride<>(time * width));
}

// Row blocks of a batch: one per thread of TensorFlow's intra-op pool,
// each at least kMinBlockRows rows.
int64_t BlockCount(OpKernelContext* context, int64_t batch) {
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  const int64_t threads = std::max(1, workers->NumThreads());
  return std::max<int64_t>(1, std::min(threads, batch / kMinBlockRows));
}

// Runs fn(block, start, limit) for each of `blocks` row blocks of the
// batch, on the intra-op pool's threads.
template <typename Fn>
void ForRowBlocks(OpKernelContext* context, int64_t batch, int64_t blocks,
                  Fn fn) {
  auto run = [&](int64_t block) {
    const int64_t start = batch * block / blocks;
    const int64_t limit = batch * (block + 1) / blocks;
    if (limit > start) fn(block, start, limit);
  };
  if (blocks == 1) {
    run(0);
    return;
  }
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  // A cost large enough that Shard makes one shard per block.
  tensorflow::Shard(blocks, workers, blocks, 1LL << 40,
                    [&](int64_t first, int64_t last) {
                      for (int64_t block = first; block < last; ++block) {
                        run(block);
                      }
                    });
}

struct Config {
  Kind kind;
  float cell_clip;  // 0: no clipping
  bool go_backwards;
  int64_t batch, time, units;
  bool peepholes, dropout, bias;

  int64_t InputIndex(int64_t k) const { return go_backwards ? time - 1 - k : k; }
};

Status CheckInputs(OpKernelContext* context, const Config& c,
                   const Tensor& bias, const Tensor& h0, const Tensor& c0,
                   const Tensor& kernel, const Tensor& extra,
                   const Tensor& mask, const Tensor& dropout) {
  const int64_t b = c.batch, h = c.units, g = Gates(c.kind);
  auto is = [](const Tensor& t, std::initializer_list<int64_t> dims) {
    return t.shape() == TensorShape(dims);
  };
  if (!is(bias, {g * h}) && !is(bias, {0}))
    return tensorflow::errors::InvalidArgument("bias must be [gates * units] or [0]");
  if (!is(h0, {b, h}) || !is(c0, {b, h}))
    return tensorflow::errors::InvalidArgument("h0 and c0 must be [batch, units]");
  if (!is(kernel, {h, g * h}))
    return tensorflow::errors::InvalidArgument("kernel must be [units, gates * units]");
  if (!is(mask, {b, c.time}))
    return tensorflow::errors::InvalidArgument("mask must be [batch, time]");
  if (!is(dropout, {b, h}) && !is(dropout, {0, h}))
    return tensorflow::errors::InvalidArgument("dropout must be [batch, units] or [0, units]");
  bool extra_ok = false;
  switch (c.kind) {
    case kLstm:
      extra_ok = is(extra, {3, h}) || is(extra, {0, h});
      break;
    case kGruAfter:
      extra_ok = is(extra, {g * h});
      break;
    case kGruBefore:
    case kSimple:
      extra_ok = is(extra, {0});
      break;
  }
  if (!extra_ok)
    return tensorflow::errors::InvalidArgument("extra has the wrong shape for this cell");
  return Status();
}

class RnnOpBase : public OpKernel {
 public:
  explicit RnnOpBase(OpKernelConstruction* context) : OpKernel(context) {
    std::string kind;
    OP_REQUIRES_OK(context, context->GetAttr("kind", &kind));
    kind_ = ParseKind(kind);
    OP_REQUIRES_OK(context, context->GetAttr("cell_clip", &cell_clip_));
    OP_REQUIRES_OK(context, context->GetAttr("go_backwards", &go_backwards_));
  }

 protected:
  Config MakeConfig(int64_t batch, int64_t time, int64_t units,
                    const Tensor& bias, const Tensor& extra,
                    const Tensor& dropout) const {
    Config c;
    c.kind = kind_;
    c.cell_clip = cell_clip_;
    c.go_backwards = go_backwards_;
    c.batch = batch;
    c.time = time;
    c.units = units;
    c.peepholes = kind_ == kLstm && extra.NumElements() > 0;
    c.dropout = dropout.NumElements() > 0;
    c.bias = bias.NumElements() > 0;
    return c;
  }

  Kind kind_;
  float cell_clip_;
  bool go_backwards_;
};

// ---------------------------------------------------------------- forward

class RnnForwardOp : public RnnOpBase {
 public:
  using RnnOpBase::RnnOpBase;

  void Compute(OpKernelContext* context) override {
    const Tensor& xproj = context->input(0);
    const Tensor& bias = context->input(1);
    const Tensor& h0 = context->input(2);
    const Tensor& c0 = context->input(3);
    const Tensor& kernel = context->input(4);
    const Tensor& extra = context->input(5);
    const Tensor& mask = context->input(6);
    const Tensor& dropout = context->input(7);
    OP_REQUIRES(context, xproj.dims() == 3,
                tensorflow::errors::InvalidArgument("xproj must be [batch, time, gates * units]"));
    const int64_t batch = xproj.dim_size(0), time = xproj.dim_size(1);
    const int64_t units = kernel.dim_size(0);
    const Config c = MakeConfig(batch, time, units, bias, extra, dropout);
    OP_REQUIRES(context, xproj.dim_size(2) == Gates(kind_) * units,
                tensorflow::errors::InvalidArgument("xproj must be [batch, time, gates * units]"));
    OP_REQUIRES_OK(context,
                   CheckInputs(context, c, bias, h0, c0, kernel, extra, mask,
                               dropout));

    Tensor *outputs, *h_final, *c_final, *workspace;
    OP_REQUIRES_OK(context, context->allocate_output(
                                0, TensorShape({batch, time, units}), &outputs));
    OP_REQUIRES_OK(context, context->allocate_output(
                                1, TensorShape({batch, units}), &h_final));
    OP_REQUIRES_OK(context, context->allocate_output(
                                2, TensorShape({batch, units}), &c_final));
    OP_REQUIRES_OK(context,
                   context->allocate_output(
                       3, TensorShape({batch, time, WorkspaceBlocks(kind_) * units}),
                       &workspace));
    if (batch == 0) return;
    if (time == 0) {
      h_final->flat<float>() = h0.flat<float>();
      c_final->flat<float>() = c0.flat<float>();
      return;
    }
    Args a{c,
           xproj.flat<float>().data(),
           bias.flat<float>().data(),
           h0.flat<float>().data(),
           c0.flat<float>().data(),
           kernel.flat<float>().data(),
           extra.flat<float>().data(),
           mask.flat<float>().data(),
           dropout.flat<float>().data(),
           outputs->flat<float>().data(),
           h_final->flat<float>().data(),
           c_final->flat<float>().data(),
           workspace->flat<float>().data()};
    ForRowBlocks(context, batch, BlockCount(context, batch),
                 [&](int64_t, int64_t start, int64_t limit) {
                   Run(a, start, limit);
                 });
  }

 private:
  struct Args {
    Config c;
    const float *xproj, *bias, *h0, *c0, *kernel, *extra, *mask, *dropout;
    float *outputs, *h_final, *c_final, *workspace;
  };

  static void Run(const Args& a, int64_t start, int64_t limit) {
    if (InWorkspace(a.c.kind)) {
      RunInWorkspace(a, start, limit);
    } else {
      RunGru(a, start, limit);
    }
  }

  // The LSTM and the SimpleRNN keep their state in the workspace: step k's
  // gates are x_t + h_{k-1} U, computed in place (the GEMM accumulates into
  // the workspace), then each row goes through its activations and state
  // update in one pass while it is in cache.
  static void RunInWorkspace(const Args& a, int64_t start, int64_t limit) {
    const Config& c = a.c;
    const int64_t n = limit - start, H = c.units, G = Gates(c.kind);
    const int64_t T = c.time, W = WorkspaceBlocks(c.kind) * H;
    const int64_t ws_ld = T * W, h_slot = W - H, c_slot = 5 * H;
    const bool lstm = c.kind == kLstm;
    Matrix hrec(c.dropout ? n : 0, H);
    const ConstStrided drop(a.dropout + start * H, c.dropout ? n : 0, H,
                            Eigen::OuterStride<>(H));
    using RowMap = Eigen::Map<Eigen::Array<float, 1, Eigen::Dynamic>>;
    using ConstRowMap = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;
    const ConstRowMap pi(a.extra, c.peepholes ? H : 0),
        pf(a.extra + H, c.peepholes ? H : 0),
        po(a.extra + 2 * H, c.peepholes ? H : 0);
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = c.InputIndex(k);
      float* wk = a.workspace + (start * T + k) * W;
      // The state before step k: h0, c0 or the workspace's after k - 1.
      const float* hp = k > 0 ? wk - W + h_slot : a.h0 + start * H;
      const float* cp =
          !lstm ? nullptr : k > 0 ? wk - W + c_slot : a.c0 + start * H;
      const int64_t ld = k > 0 ? ws_ld : H;
      Strided gates(wk, n, G * H, Eigen::OuterStride<>(ws_ld));
      if (c.bias) {
        gates = Rows(a.xproj, start, n, t, T, G * H).rowwise() +
                Eigen::Map<const Eigen::RowVectorXf>(a.bias, G * H);
      } else {
        gates = Rows(a.xproj, start, n, t, T, G * H);
      }
      const float* hr = hp;
      int64_t hr_ld = ld;
      if (c.dropout) {
        hrec = ConstStrided(hp, n, H, Eigen::OuterStride<>(ld))
                   .cwiseProduct(drop);
        hr = hrec.data();
        hr_ld = H;
      }
      Gemm(false, false, n, G * H, H, hr, hr_ld, a.kernel, G * H, 1.0f, wk,
           ws_ld);
      float* out = a.outputs + (start * T + k) * H;
      for (int64_t j = 0; j < n; ++j) {
        float* z = wk + j * ws_ld;
        RowMap h_new(z + h_slot, H), o_row(out + j * T * H, H);
        ConstRowMap h_prev(hp + j * ld, H);
        const bool real = a.mask[(start + j) * T + t] != 0.0f;
        if (!lstm) {
          if (real) {
            h_new = h_new.tanh();
            o_row = h_new;
          } else {
            h_new = h_prev;
            o_row.setZero();
          }
          continue;
        }
        RowMap zi(z, H), zf(z + H, H), zg(z + 2 * H, H), zo(z + 3 * H, H),
            cu(z + 4 * H, H), c_new(z + c_slot, H);
        ConstRowMap c_prev(cp + j * ld, H);
        if (c.peepholes) {
          zi += c_prev * pi;
          zf += c_prev * pf;
        }
        zi = Sigmoid(zi);
        zf = Sigmoid(zf);
        zg = zg.tanh();
        // c unclipped, then clipped: the state.
        cu = zf * c_prev + zi * zg;
        if (c.cell_clip > 0) {
          c_new = cu.max(-c.cell_clip).min(c.cell_clip);
        } else {
          c_new = cu;
        }
        if (c.peepholes) zo += c_new * po;
        zo = Sigmoid(zo);
        if (real) {
          h_new = zo * c_new.tanh();
          o_row = h_new;
        } else {
          // Padded: the state is carried, the output is zero.
          c_new = c_prev;
          h_new = h_prev;
          o_row.setZero();
        }
      }
    }
    const float* last = a.workspace + (start * T + T - 1) * W;
    Strided(a.h_final + start * H, n, H, Eigen::OuterStride<>(H)) =
        ConstStrided(last + h_slot, n, H, Eigen::OuterStride<>(ws_ld));
    Strided(a.c_final + start * H, n, H, Eigen::OuterStride<>(H)) =
        ConstStrided(last + (lstm ? c_slot : h_slot), n, H,
                     Eigen::OuterStride<>(ws_ld));
  }

  static void RunGru(const Args& a, int64_t start, int64_t limit) {
    const Config& c = a.c;
    const int64_t n = limit - start, H = c.units, G = Gates(c.kind);
    const int64_t T = c.time, W = WorkspaceBlocks(c.kind) * H;
    Matrix h = ConstStrided(a.h0 + start * H, n, H, Eigen::OuterStride<>(H));
    Matrix hrec(n, H), z(n, G * H), hn(n, H), cn(n, H);
    Matrix xb(c.bias ? n : 0, G * H);
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = c.InputIndex(k);
      if (c.dropout) {
        hrec = h.cwiseProduct(
            ConstStrided(a.dropout + start * H, n, H, Eigen::OuterStride<>(H)));
      }
      const Matrix& hr = c.dropout ? hrec : h;
      ConstStrided x = Rows(a.xproj, start, n, t, T, G * H);
      if (c.bias) {
        xb = x.rowwise() + Eigen::Map<const Eigen::RowVectorXf>(a.bias, G * H);
        new (&x) ConstStrided(xb.data(), n, G * H, Eigen::OuterStride<>(G * H));
      }
      auto ws = Rows(a.workspace, start, n, k, T, W);
      if (c.kind == kGruAfter) {
        Gemm(false, false, n, G * H, H, hr.data(), H, a.kernel, G * H, 0.0f, z.data(),
             G * H);
        z.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(a.extra, G * H);
        // z holds (h U + b); gates into the workspace.
        auto gz = ws.block(0, 0, n, H).array();
        auto gr = ws.block(0, H, n, H).array();
        auto gn = ws.block(0, 2 * H, n, H).array();
        gz = Sigmoid(x.block(0, 0, n, H).array() + z.block(0, 0, n, H).array());
        gr = Sigmoid(x.block(0, H, n, H).array() + z.block(0, H, n, H).array());
        gn = (x.block(0, 2 * H, n, H).array() +
              gr * z.block(0, 2 * H, n, H).array()).tanh();
        ws.block(0, 3 * H, n, H) = z.block(0, 2 * H, n, H);
        hn = (gz * h.array() + (1.0f - gz) * gn).matrix();
      } else {  // kGruBefore
        // z's first 2H columns: h U_zr; its last H: (r * h) U_n.
        Gemm(false, false, n, 2 * H, H, hr.data(), H, a.kernel, 3 * H, 0.0f,
             z.data(), 3 * H);
        auto zr = z.block(0, 0, n, 2 * H);
        auto gz = ws.block(0, 0, n, H).array();
        auto gr = ws.block(0, H, n, H).array();
        auto gn = ws.block(0, 2 * H, n, H).array();
        gz = Sigmoid(x.block(0, 0, n, H).array() + zr.block(0, 0, n, H).array());
        gr = Sigmoid(x.block(0, H, n, H).array() + zr.block(0, H, n, H).array());
        cn = (gr * hr.array()).matrix();  // r * h_rec
        Gemm(false, false, n, H, H, cn.data(), H, a.kernel + 2 * H, 3 * H, 0.0f,
             z.data() + 2 * H, 3 * H);
        gn = (x.block(0, 2 * H, n, H).array() + z.block(0, 2 * H, n, H).array())
                 .tanh();
        hn = (gz * h.array() + (1.0f - gz) * gn).matrix();
      }
      // Real steps take the new state; padded steps carry it and emit zeros.
      auto out = Rows(a.outputs, start, n, k, T, H);
      for (int64_t j = 0; j < n; ++j) {
        const bool real = a.mask[(start + j) * T + t] != 0.0f;
        if (real) {
          h.row(j) = hn.row(j);
          out.row(j) = hn.row(j);
        } else {
          out.row(j).setZero();
        }
      }
      ws.block(0, W - H, n, H) = h;
    }
    Strided(a.h_final + start * H, n, H, Eigen::OuterStride<>(H)) = h;
    Strided(a.c_final + start * H, n, H, Eigen::OuterStride<>(H)) = h;
  }
};

// --------------------------------------------------------------- backward

class RnnBackwardOp : public RnnOpBase {
 public:
  using RnnOpBase::RnnOpBase;

  void Compute(OpKernelContext* context) override {
    const Tensor& h0 = context->input(0);
    const Tensor& c0 = context->input(1);
    const Tensor& kernel = context->input(2);
    const Tensor& extra = context->input(3);
    const Tensor& bias = context->input(4);
    const Tensor& mask = context->input(5);
    const Tensor& dropout = context->input(6);
    const Tensor& workspace = context->input(7);
    const Tensor& d_outputs = context->input(8);
    const Tensor& d_h = context->input(9);
    const Tensor& d_c = context->input(10);
    OP_REQUIRES(context, workspace.dims() == 3,
                tensorflow::errors::InvalidArgument("workspace must be [batch, time, width]"));
    const int64_t batch = workspace.dim_size(0), time = workspace.dim_size(1);
    const int64_t units = kernel.dim_size(0), G = Gates(kind_);
    const Config c = MakeConfig(batch, time, units, bias, extra, dropout);
    OP_REQUIRES_OK(context,
                   CheckInputs(context, c, bias, h0, c0, kernel, extra, mask,
                               dropout));
    OP_REQUIRES(context,
                workspace.dim_size(2) == WorkspaceBlocks(kind_) * units,
                tensorflow::errors::InvalidArgument(
                    "workspace must be [batch, time, width] of this cell"));
    OP_REQUIRES(context,
                d_outputs.shape() == TensorShape({batch, time, units}) &&
                    d_h.shape() == h0.shape() && d_c.shape() == h0.shape(),
                tensorflow::errors::InvalidArgument("gradients do not match the outputs"));

    Tensor *d_xproj, *d_bias, *d_kernel, *d_h0, *d_c0, *d_extra;
    OP_REQUIRES_OK(context, context->allocate_output(
                                0, TensorShape({batch, time, G * units}), &d_xproj));
    OP_REQUIRES_OK(context, context->allocate_output(1, bias.shape(), &d_bias));
    d_bias->flat<float>().setZero();
    OP_REQUIRES_OK(context,
                   context->allocate_output(2, kernel.shape(), &d_kernel));
    d_kernel->flat<float>().setZero();
    OP_REQUIRES_OK(context, context->allocate_output(3, h0.shape(), &d_h0));
    OP_REQUIRES_OK(context, context->allocate_output(4, c0.shape(), &d_c0));
    OP_REQUIRES_OK(context, context->allocate_output(5, extra.shape(), &d_extra));
    d_extra->flat<float>().setZero();
    if (batch == 0) return;
    if (time == 0) {
      d_h0->flat<float>() = d_h.flat<float>();
      d_c0->flat<float>() = d_c.flat<float>();
      return;
    }
    Tensor h_rec;
    OP_REQUIRES_OK(context,
                   context->allocate_temp(
                       tensorflow::DT_FLOAT,
                       TensorShape({InWorkspace(kind_) ? batch : 0, time, units}),
                       &h_rec));
    // Weight gradients: one partial sum per row block, added in block
    // order at the end, so that the result does not depend on which
    // thread finished first.
    Args a{c,
           h0.flat<float>().data(),
           c0.flat<float>().data(),
           kernel.flat<float>().data(),
           extra.flat<float>().data(),
           mask.flat<float>().data(),
           dropout.flat<float>().data(),
           workspace.flat<float>().data(),
           d_outputs.flat<float>().data(),
           d_h.flat<float>().data(),
           d_c.flat<float>().data(),
           d_xproj->flat<float>().data(),
           d_h0->flat<float>().data(),
           d_c0->flat<float>().data(),
           h_rec.flat<float>().data()};
    const int64_t blocks = BlockCount(context, batch);
    std::vector<Matrix> d_kernels(blocks, Matrix::Zero(units, G * units));
    std::vector<Eigen::RowVectorXf> d_extras(
        blocks, Eigen::RowVectorXf::Zero(extra.NumElements()));
    std::vector<Eigen::RowVectorXf> d_biases(
        blocks, Eigen::RowVectorXf::Zero(bias.NumElements()));
    ForRowBlocks(context, batch, blocks,
                 [&](int64_t block, int64_t start, int64_t limit) {
                   Run(a, start, limit, &d_kernels[block], &d_extras[block],
                       &d_biases[block]);
                 });
    Eigen::Map<Matrix> d_kernel_total(d_kernel->flat<float>().data(), units,
                                      G * units);
    Eigen::Map<Eigen::RowVectorXf> d_extra_total(d_extra->flat<float>().data(),
                                                 extra.NumElements());
    Eigen::Map<Eigen::RowVectorXf> d_bias_total(d_bias->flat<float>().data(),
                                                bias.NumElements());
    for (int64_t block = 0; block < blocks; ++block) {
      d_kernel_total += d_kernels[block];
      d_extra_total += d_extras[block];
      d_bias_total += d_biases[block];
    }
  }

 private:
  struct Args {
    Config c;
    const float *h0, *c0, *kernel, *extra, *mask, *dropout, *workspace;
    const float *d_outputs, *d_h, *d_c;
    float *d_xproj, *d_h0, *d_c0;
    float* h_rec;  // [B, T, H] scratch of the LSTM and the SimpleRNN
  };

  // Runs rows [start, limit) back through time; adds their share of the
  // recurrent kernel's and `extra`'s gradients to `d_kernel` and `d_extra`.
  static void Run(const Args& a, int64_t start, int64_t limit,
                  Matrix* d_kernel, Eigen::RowVectorXf* d_extra,
                  Eigen::RowVectorXf* d_bias) {
    if (InWorkspace(a.c.kind)) {
      RunInWorkspace(a, start, limit, d_kernel, d_extra, d_bias);
    } else {
      RunGru(a, start, limit, d_kernel, d_extra, d_bias);
    }
  }

  // The LSTM and the SimpleRNN: each row's gate gradients in one pass,
  // written straight into d_xproj; h_{k-1} (with dropout) is kept per
  // step in `a.h_rec`, in input order, so that the kernel's gradient is
  // one GEMM over every step at the end, h_rec^T d_xproj, instead of one
  // thin GEMM per step.
  static void RunInWorkspace(const Args& a, int64_t start, int64_t limit,
                             Matrix* d_kernel, Eigen::RowVectorXf* d_extra,
                             Eigen::RowVectorXf* d_bias) {
    const Config& c = a.c;
    const int64_t n = limit - start, H = c.units, G = Gates(c.kind);
    const int64_t T = c.time, W = WorkspaceBlocks(c.kind) * H;
    const int64_t ws_ld = T * W, h_slot = W - H, c_slot = 5 * H;
    const bool lstm = c.kind == kLstm;
    const Eigen::OuterStride<> rowH(H);
    Matrix dh = ConstStrided(a.d_h + start * H, n, H, rowH);
    Matrix dc = ConstStrided(a.d_c + start * H, n, H, rowH);
    Matrix drh(n, H);
    using RowArray = Eigen::Array<float, 1, Eigen::Dynamic>;
    using RowMap = Eigen::Map<RowArray>;
    using ConstRowMap = Eigen::Map<const RowArray>;
    RowArray dh_new(H), c_new(H), tc(H), dct(H);
    const ConstRowMap pi(a.extra, c.peepholes ? H : 0),
        pf(a.extra + H, c.peepholes ? H : 0),
        po(a.extra + 2 * H, c.peepholes ? H : 0);
    RowMap d_b(d_bias->data(), c.bias ? G * H : 0);
    RowMap d_pi(d_extra->data(), c.peepholes ? H : 0),
        d_pf(d_extra->data() + H, c.peepholes ? H : 0),
        d_po(d_extra->data() + 2 * H, c.peepholes ? H : 0);
    for (int64_t k = T - 1; k >= 0; --k) {
      const int64_t t = c.InputIndex(k);
      const float* wk = a.workspace + (start * T + k) * W;
      const float* hp = k > 0 ? wk - W + h_slot : a.h0 + start * H;
      const float* cp =
          !lstm ? nullptr : k > 0 ? wk - W + c_slot : a.c0 + start * H;
      const int64_t ld = k > 0 ? ws_ld : H;
      float* dzk = a.d_xproj + (start * T + t) * G * H;
      const float* d_out = a.d_outputs + (start * T + k) * H;
      for (int64_t j = 0; j < n; ++j) {
        const float* z = wk + j * ws_ld;
        RowMap dz(dzk + j * T * G * H, G * H);
        ConstRowMap h_prev(hp + j * ld, H);
        // Padded rows too: their zero dz meets a finite h_rec in the dU GEMM.
        RowMap h_rec(a.h_rec + ((start + j) * T + t) * H, H);
        if (c.dropout) {
          h_rec = h_prev * ConstRowMap(a.dropout + (start + j) * H, H);
        } else {
          h_rec = h_prev;
        }
        if (a.mask[(start + j) * T + t] == 0.0f) {
          // Padded: no gradient into this step; the state passes by.
          dz.setZero();
          continue;
        }
        dh_new = dh.row(j).array() + ConstRowMap(d_out + j * T * H, H);
        if (!lstm) {
          // h after a real step is tanh(z).
          const ConstRowMap h_new(z + h_slot, H);
          dz = dh_new * (1.0f - h_new.square());
          if (c.bias) d_b += dz;
          continue;
        }
        const ConstRowMap i(z, H), f(z + H, H), g(z + 2 * H, H),
            o(z + 3 * H, H), cu(z + 4 * H, H), c_prev(cp + j * ld, H);
        if (c.cell_clip > 0) {
          c_new = cu.max(-c.cell_clip).min(c.cell_clip);
        } else {
          c_new = cu;
        }
        tc = c_new.tanh();
        auto dzi = dz.segment(0, H), dzf = dz.segment(H, H),
             dzg = dz.segment(2 * H, H), dzo = dz.segment(3 * H, H);
        dzo = dh_new * tc * o * (1.0f - o);
        dct = dc.row(j).array() + dh_new * o * (1.0f - tc.square());
        if (c.peepholes) dct += dzo * po;
        if (c.cell_clip > 0) {
          dct = (cu >= -c.cell_clip && cu <= c.cell_clip).select(dct, 0.0f);
        }
        dzi = dct * g * i * (1.0f - i);
        dzf = dct * c_prev * f * (1.0f - f);
        dzg = dct * i * (1.0f - g.square());
        if (c.peepholes) {
          dc.row(j).array() = dct * f + dzi * pi + dzf * pf;
          d_pi += dzi * c_prev;
          d_pf += dzf * c_prev;
          d_po += dzo * c_new;
        } else {
          dc.row(j).array() = dct * f;
        }
        if (c.bias) d_b += dz;
      }
      // dh_rec = dz U^T, into the state of the real rows.
      Gemm(false, true, n, H, G * H, dzk, T * G * H, a.kernel, G * H, 0.0f,
           drh.data(), H);
      if (c.dropout) {
        drh.array() *= ConstStrided(a.dropout + start * H, n, H, rowH).array();
      }
      for (int64_t j = 0; j < n; ++j) {
        if (a.mask[(start + j) * T + t] != 0.0f) dh.row(j) = drh.row(j);
      }
    }
    // dU += h_rec^T dz over every step of the block's rows.
    Gemm(true, false, H, G * H, n * T, a.h_rec + start * T * H, H,
         a.d_xproj + start * T * G * H, G * H, 1.0f, d_kernel->data(), G * H);
    Strided(a.d_h0 + start * H, n, H, rowH) = dh;
    Strided d_c0(a.d_c0 + start * H, n, H, rowH);
    if (lstm) {
      d_c0 = dc;
    } else {
      d_c0.setZero();
    }
  }

  static void RunGru(const Args& a, int64_t start, int64_t limit,
                     Matrix* d_kernel, Eigen::RowVectorXf* d_extra,
                     Eigen::RowVectorXf* d_bias) {
    const Config& c = a.c;
    const int64_t n = limit - start, H = c.units, G = Gates(c.kind);
    const int64_t T = c.time, W = WorkspaceBlocks(c.kind) * H;
    const Eigen::OuterStride<> rowH(H);
    Matrix dh = ConstStrided(a.d_h + start * H, n, H, rowH);
    Matrix dz(n, G * H), dhp(n, G * H), dh_new(n, H);
    Matrix drh(n, H), hprev_rec(n, H);
    ConstStrided h0(a.h0 + start * H, n, H, rowH);
    ConstStrided drop(a.dropout + start * H, n, H, rowH);
    for (int64_t k = T - 1; k >= 0; --k) {
      const int64_t t = c.InputIndex(k);
      auto ws = Rows(a.workspace, start, n, k, T, W);
      // The state before step k: the workspace's state after step k - 1.
      ConstStrided h_prev =
          k > 0 ? Block(a.workspace, start, n, k - 1, T, W, W - H, H) : h0;
      if (c.dropout) {
        hprev_rec = h_prev.cwiseProduct(drop);
      } else {
        hprev_rec = h_prev;
      }
      // dh + the gradient of this step's output.
      dh_new = dh + Rows(a.d_outputs, start, n, k, T, H);
      auto gz = ws.block(0, 0, n, H).array();
      auto gr = ws.block(0, H, n, H).array();
      auto gn = ws.block(0, 2 * H, n, H).array();
      auto dzz = dz.block(0, 0, n, H).array();
      auto dzr = dz.block(0, H, n, H).array();
      auto dzn = dz.block(0, 2 * H, n, H).array();
      dzz = dh_new.array() * (h_prev.array() - gn) * gz * (1.0f - gz);
      dzn = dh_new.array() * (1.0f - gz) * (1.0f - gn.square());
      Matrix d_carry = (dh_new.array() * gz).matrix();
      if (c.kind == kGruAfter) {
        auto hpn = ws.block(0, 3 * H, n, H).array();
        dzr = dzn * hpn * gr * (1.0f - gr);
        for (int64_t j = 0; j < n; ++j) {
          if (a.mask[(start + j) * T + t] == 0.0f) dz.row(j).setZero();
        }
        dhp = dz;
        dhp.block(0, 2 * H, n, H).array() *= gr;
        // dU += h_rec^T dhp (the recurrent product's gradient), and
        // its bias: the sum of dhp.
        Gemm(true, false, H, G * H, n, hprev_rec.data(), H, dhp.data(),
             G * H, 1.0f, d_kernel->data(), G * H);
        *d_extra += dhp.colwise().sum();
        Gemm(false, true, n, H, G * H, dhp.data(), G * H, a.kernel, G * H, 0.0f,
             drh.data(), H);
      } else {
        for (int64_t j = 0; j < n; ++j) {
          if (a.mask[(start + j) * T + t] == 0.0f) {
            dz.row(j).setZero();
          }
        }
        // d(r * h_rec) = dn U_n^T; dh_rec = [dz, dr] U_zr^T + d(r h) * r.
        Matrix d_rh(n, H);
        Gemm(false, true, n, H, H, dz.data() + 2 * H, 3 * H, a.kernel + 2 * H,
             3 * H, 0.0f, d_rh.data(), H);
        dzr = d_rh.array() * hprev_rec.array() * gr * (1.0f - gr);
        Gemm(false, true, n, H, 2 * H, dz.data(), 3 * H, a.kernel, 3 * H, 0.0f,
             drh.data(), H);
        drh.array() += d_rh.array() * gr;
        // dU_zr += h_rec^T [dz, dr]; dU_n += (r * h_rec)^T dn.
        Gemm(true, false, H, 2 * H, n, hprev_rec.data(), H, dz.data(), 3 * H,
             1.0f, d_kernel->data(), 3 * H);
        Matrix rh = (gr * hprev_rec.array()).matrix();
        Gemm(true, false, H, H, n, rh.data(), H, dz.data() + 2 * H, 3 * H,
             1.0f, d_kernel->data() + 2 * H, 3 * H);
      }
      if (c.dropout) drh.array() *= drop.array();
      for (int64_t j = 0; j < n; ++j) {
        if (a.mask[(start + j) * T + t] != 0.0f) {
          dh.row(j) = d_carry.row(j) + drh.row(j);
        }
      }
      Rows(a.d_xproj, start, n, t, T, G * H) = dz;
      if (c.bias) *d_bias += dz.colwise().sum();
    }
    Strided(a.d_h0 + start * H, n, H, rowH) = dh;
    Strided(a.d_c0 + start * H, n, H, rowH).setZero();
  }
};

Status ForwardShape(InferenceContext* c) {
  ShapeHandle xproj, kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &xproj));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 2, &kernel));
  auto batch = c->Dim(xproj, 0), time = c->Dim(xproj, 1);
  auto units = c->Dim(kernel, 0);
  c->set_output(0, c->MakeShape({batch, time, units}));
  c->set_output(1, c->MakeShape({batch, units}));
  c->set_output(2, c->MakeShape({batch, units}));
  c->set_output(3, c->MakeShape({batch, time, c->UnknownDim()}));
  return Status();
}

Status BackwardShape(InferenceContext* c) {
  ShapeHandle workspace, h0;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(7), 3, &workspace));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &h0));
  c->set_output(0, c->MakeShape({c->Dim(workspace, 0), c->Dim(workspace, 1),
                                 c->UnknownDim()}));
  c->set_output(1, c->input(4));
  c->set_output(2, c->input(2));
  c->set_output(3, c->input(0));
  c->set_output(4, c->input(1));
  c->set_output(5, c->input(3));
  return Status();
}

}  // namespace

REGISTER_OP("ZooRnnForward")
    .Input("xproj: float")
    .Input("bias: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("extra: float")
    .Input("mask: float")
    .Input("dropout: float")
    .Output("outputs: float")
    .Output("h: float")
    .Output("c: float")
    .Output("workspace: float")
    .Attr("kind: {'lstm', 'gru_after', 'gru_before', 'simple'}")
    .Attr("cell_clip: float = 0")
    .Attr("go_backwards: bool = false")
    .SetShapeFn(ForwardShape);

REGISTER_OP("ZooRnnBackward")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("extra: float")
    .Input("bias: float")
    .Input("mask: float")
    .Input("dropout: float")
    .Input("workspace: float")
    .Input("d_outputs: float")
    .Input("d_h: float")
    .Input("d_c: float")
    .Output("d_xproj: float")
    .Output("d_bias: float")
    .Output("d_kernel: float")
    .Output("d_h0: float")
    .Output("d_c0: float")
    .Output("d_extra: float")
    .Attr("kind: {'lstm', 'gru_after', 'gru_before', 'simple'}")
    .Attr("cell_clip: float = 0")
    .Attr("go_backwards: bool = false")
    .SetShapeFn(BackwardShape);

REGISTER_KERNEL_BUILDER(Name("ZooRnnForward").Device(DEVICE_CPU), RnnForwardOp);
REGISTER_KERNEL_BUILDER(Name("ZooRnnBackward").Device(DEVICE_CPU), RnnBackwardOp);

}  // namespace zoo
