"""Would photons per output channel beat dpcc's photons per layer at equal energy?

Takes a dpcc report compiled for the paper_shot device (photons per MAC per analog layer),
keeps each layer's energy, reshapes it over the layer's output channels, and scores the
result on the PyTorch shot-noise model of onnx_torch.py (the same noise as dprun's
paper_shot: output noise std |x_patch| |W_c| / sqrt(D n_c), D the fan-in):

    /usr/bin/python3 benchmarks/paper/per_channel.py --model models/fmnist_resnet50/model.onnx \
        --report r50.json --calib models/fmnist_resnet50/calib.npy --calib-count 512 \
        --test models/fmnist_resnet50/test.npy --test-labels models/fmnist_resnet50/test_labels.npy \
        --test-count 1000 --seeds 3 --scales 0.3,0.4,0.5,0.65,0.8,1.0,1.25,1.6 \
        --sens-cache sens.npz --out per_channel.json
    # the paired check near the crossing: more inputs and seeds, the control allocation
    ... --test-count 3000 --seeds 8 --scales 0.8,1.0 \
        --allocs layer,oracle,global,anti,wnorm,layeropt --sens-cache sens.npz --out big.json
    # sensitivity at a noisy operating point instead (its own cache)
    ... --scales 0.65,0.8,1.0,1.25 --allocs oracle,global --sens-noisy 1.0 \
        --sens-cache sens_noisy.npz --out noisy.json

where r50.json is `dpcc MODEL --device paper_shot --calib FIRST_256_CALIB --labels LABELS
--budget accuracy=0.02 --report r50.json`. About 17 s per scored point (1,000 inputs, 3
seeds) and 20 s for the sensitivity on one thread of a 2-core machine.

Sensitivity. With the noise off, for every analog node l and output channel c,
a_{l,c} = E_x sum_p ||J_{:,(c,p)}||^2 |x_p|^2 |W_c|^2 / D, J the Jacobian of the logits
with respect to the node's output before its bias (where the noise is added), p the output
positions, x_p the im2col patch; the expectation is over the first --calib-count calibration
inputs, J's columns exactly, one backward pass per logit. Shot noise at n_{l,c} photons per
MAC then adds sum_{l,c} a_{l,c} / n_{l,c} to the logits' mean square error (first order).
With --sens-noisy F, J is taken instead at a noisy operating point (dpcc's per-layer n times
F, one noise draw per input), so that the linearisation sees channels the noise pushes
across a ReLU's threshold.

Allocations (photons per MAC, per node and channel; every n clamped to >= --min-photons):
  layer     (a) dpcc's n_l for every channel of layer l;
  oracle    (b) n_{l,c} = n_l sqrt(a_{l,c}) / mean_c sqrt(a_{l,c}): the optimum of
                sum_c a_{l,c} / n_{l,c} at the layer's energy;
  wnorm     (c) n_{l,c} proportional to |W_c| g_c / sqrt(v_c + eps) (the following
                BatchNormalization folded in), at the layer's mean n_l;
  global    (d) n_{l,c} proportional to sqrt(a_{l,c} / m_l), m_l the MACs of one channel, at
                dpcc's total energy: this one also MOVES ENERGY BETWEEN LAYERS;
  anti      (control) the inverse of (b): n_{l,c} proportional to 1 / sqrt(a_{l,c}) at the
                layer's energy, to show whether the within-layer shape matters at all;
  layeropt  (e) per layer only, n_l proportional to sqrt(sum_c a_{l,c} / M_l) at dpcc's total
                energy: the cross-layer part of (d) without the per-channel part.
Each is scored at every --scales factor (all n times the factor) on the first --test-count
held-out inputs, noisy over --seeds noise seeds (the same seeds for every allocation), and
the noise-free accuracy on the same inputs. For each allocation the aJ/MAC at which the drop
reaches --max-drop is interpolated linearly in log energy between the bracketing scales.
Energy: 0.128 aJ (h c / 1550 nm) times the MAC-weighted mean of n.

Writes --out (JSON): settings, the per-layer sensitivity summary (sum a, (mean sqrt a)^2 /
mean a: the energy factor per-channel shaping gives that layer at equal predicted noise),
the predicted logit MSE of every allocation (on the calibration inputs), every scored point
(with the measured mean squared distance of the noisy logits from the noise-free ones, on the
held-out inputs), the interpolated energies and wall times. The JSON is rewritten after every scored point.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import PHOTON_AJ, OnnxModule  # noqa: E402


def log(msg):
    print(f"per_channel: {msg}", file=sys.stderr, flush=True)


class ProbedModule(OnnxModule):
    """OnnxModule that, with probe on, adds a zero tensor requiring grad at every noise point
    and records the noise scale squared over the fan-in (std^2 times n)."""

    probe = False

    def _shot(self, y, scale, fan_in, channel_axis=None):
        if not self.probe:
            return super()._shot(y, scale, fan_in, channel_axis)
        m = self._noise_module
        m.macs = y.numel() // self._batch * fan_in
        if channel_axis is not None:
            m.split(y.shape[channel_axis])
        e = torch.zeros_like(y, requires_grad=True)
        self._eps.append(e)
        self._var.append(((scale * scale) / fan_in).detach().expand(y.shape))
        self._axis.append(channel_axis % y.dim())
        if self.noisy:  # Jacobian at a noisy operating point (--sens-noisy)
            y = y + (m.add(y, scale, fan_in, self.generator, channel_axis or 0) - y).detach()
        return y + e


def sensitivity(net, x, batch, noisy=False):
    """a_{l,c} for every analog node (list of numpy vectors), averaged over x; with noisy, the
    Jacobians are taken with the noise on at the net's current photons (one draw per input)."""
    net.noisy, net.probe = noisy, True
    sums = None
    for i in range(0, len(x), batch):
        net._eps, net._var, net._axis = [], [], []
        logits = net(x[i:i + batch])
        k = logits.shape[1]
        acc = [torch.zeros_like(e) for e in net._eps]
        for j in range(k):
            onehot = torch.zeros_like(logits)
            onehot[:, j] = 1.0
            grads = torch.autograd.grad(logits, net._eps, grad_outputs=onehot,
                                        retain_graph=j < k - 1)
            for a, g in zip(acc, grads):
                a += g * g
        part = []
        for a, v, ax in zip(acc, net._var, net._axis):
            t = a * v
            dims = [d for d in range(t.dim()) if d != ax]
            part.append(t.sum(dims).double())
        sums = part if sums is None else [s + p for s, p in zip(sums, part)]
        log(f"  sensitivity: {min(i + batch, len(x))}/{len(x)} inputs")
    net.probe = False
    return [(s / len(x)).numpy() for s in sums]


def folded_weight_norms(model_path):
    """|W_c| times the following BatchNormalization's g / sqrt(v + eps), per analog node name."""
    proto = onnx.load(model_path)
    init = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    for node in proto.graph.node:  # the exporter shares some BN tensors through Identity
        if node.op_type == "Identity" and node.input[0] in init:
            init[node.output[0]] = init[node.input[0]]
    users = {}
    for node in proto.graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    out = {}
    for index, node in enumerate(proto.graph.node):
        if node.op_type not in ("Conv", "Gemm"):
            continue
        w = init[node.input[1]].astype(np.float64)
        if node.op_type == "Conv":
            w = w.reshape(w.shape[0], -1)
        else:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if not attrs.get("transB", 0):
                w = w.T  # rows = output channels
            w = w * abs(attrs.get("alpha", 1.0))
        norm = np.linalg.norm(w, axis=1)
        nxt = users.get(node.output[0], [])
        if len(nxt) == 1 and nxt[0].op_type == "BatchNormalization":
            bn = nxt[0]
            g, _, _, var = (init[n].astype(np.float64) for n in bn.input[1:5])
            eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
            norm = norm * np.abs(g) / np.sqrt(var + eps)
        out[node.name or f"{node.op_type}_{index}"] = norm
    return out


def predict(net, x, batch):
    with torch.no_grad():
        return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)])


def set_alloc(net, alloc):
    with torch.no_grad():
        for m, n in zip(net.noise, alloc):
            m.log_n.copy_(torch.from_numpy(np.log(n)).to(m.log_n.dtype).reshape(m.log_n.shape))


def mean_n(alloc, macs):
    return float(sum(mc * n.mean() for mc, n in zip(macs, alloc)) / sum(macs))


def crossing(points, max_drop):
    """aJ/MAC where the drop reaches max_drop, linear in log energy between bracketing points."""
    pts = sorted((p["aj_per_mac"], p["drop"]) for p in points)
    for (e0, d0), (e1, d1) in zip(pts, pts[1:]):
        if d0 > max_drop >= d1:
            t = (d0 - max_drop) / (d0 - d1)
            return math.exp(math.log(e0) + t * (math.log(e1) - math.log(e0))), "interpolated"
    if pts and pts[0][1] <= max_drop:
        return pts[0][0], "at most (lowest scale already within)"
    if pts and pts[-1][1] > max_drop:
        return pts[-1][0], "more than (highest scale still above)"
    return None, "no crossing"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--report", required=True, help="dpcc --report JSON (paper_shot, photons)")
    ap.add_argument("--calib", required=True, help=".npy calibration inputs (sensitivity)")
    ap.add_argument("--calib-count", type=int, default=512)
    ap.add_argument("--calib-offset", type=int, default=0, help="skip the first N calibration inputs")
    ap.add_argument("--test", required=True)
    ap.add_argument("--test-labels", required=True)
    ap.add_argument("--test-count", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3, help="noise seeds per scored point")
    ap.add_argument("--seed", type=int, default=0, help="noise seeds are seed+1 .. seed+SEEDS")
    ap.add_argument("--scales", default="0.5,0.65,0.8,1.0")
    ap.add_argument("--allocs", default="layer,oracle,wnorm,global,layeropt")
    ap.add_argument("--scales-for", default="",
                    help="per-allocation scales overriding --scales, e.g. 'layer:0.8,1,1.25;global:0.3,0.4'")
    ap.add_argument("--max-drop", type=float, default=0.02)
    ap.add_argument("--min-photons", type=float, default=0.01, help="clamp (paper_shot's step)")
    ap.add_argument("--batch", type=int, default=250, help="evaluation batch")
    ap.add_argument("--sens-batch", type=int, default=64)
    ap.add_argument("--sens-cache", help=".npz of a_{l,c}: read if present, else written")
    ap.add_argument("--sens-noisy", type=float, default=0.0,
                    help="take the Jacobians with the noise on, at dpcc's per-layer n times this "
                         "factor (0: noise off, the first-order sensitivity)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="per_channel.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()

    net = ProbedModule(args.model, photons=1.0, per_channel=True)
    names = [m.name for m in net.noise]
    report = json.load(open(args.report))
    rep = {l["name"]: l for l in report["layers"]}
    missing = [n for n in names if n not in rep]
    if missing:
        sys.exit(f"per_channel: report has no layer for nodes {missing[:5]}...")
    n_layer = np.array([float(rep[n]["photons_per_mac"]) for n in names])

    x_cal = torch.from_numpy(np.load(args.calib)[args.calib_offset:args.calib_offset + args.calib_count])
    x_test = torch.from_numpy(np.load(args.test)[:args.test_count])
    y_test = torch.from_numpy(np.load(args.test_labels)[:args.test_count]).long()

    net.noisy = False
    t0 = time.time()
    clean_logits = predict(net, x_test, args.batch)  # splits log_n per channel, counts MACs
    t_clean = time.time() - t0
    clean = float((clean_logits.argmax(1) == y_test).double().mean())
    macs = np.array([m.macs for m in net.noise], dtype=np.float64)
    chans = [int(m.log_n.numel()) for m in net.noise]
    rep_macs = np.array([rep[n]["macs"] for n in names], dtype=np.float64)
    log(f"{len(names)} analog nodes, {macs.sum() / 1e6:.2f} MMACs (report {rep_macs.sum() / 1e6:.2f}); "
        f"noise-free accuracy {clean:.4f} on {len(x_test)} test inputs ({t_clean:.1f} s); "
        f"dpcc mean n {float((macs * n_layer).sum() / macs.sum()):.3f} = "
        f"{float((macs * n_layer).sum() / macs.sum()) * PHOTON_AJ:.3f} aJ/MAC "
        f"(report {report['optical_energy_per_mac_aj']:.3f})")

    t0 = time.time()
    if args.sens_cache and os.path.exists(args.sens_cache):
        z = np.load(args.sens_cache)
        sens = [z[f"a{i}"] for i in range(len(names))]
        log(f"sensitivity read from {args.sens_cache}")
    else:
        if args.sens_noisy:
            set_alloc(net, [np.full(c, n * args.sens_noisy) for c, n in zip(chans, n_layer)])
            net.set_seed(args.seed + 1000)
        sens = sensitivity(net, x_cal, args.sens_batch, noisy=bool(args.sens_noisy))
        net.noisy = False
        if args.sens_cache:
            np.savez(args.sens_cache, **{f"a{i}": a for i, a in enumerate(sens)})
    t_sens = time.time() - t0
    sens = [np.maximum(a, 1e-300) for a in sens]

    wn = folded_weight_norms(args.model)
    energy = float((macs * n_layer).sum())
    allocs = {}
    allocs["layer"] = [np.full(c, n) for c, n in zip(chans, n_layer)]
    allocs["oracle"] = [n * np.sqrt(a) / np.sqrt(a).mean() for n, a in zip(n_layer, sens)]
    allocs["wnorm"] = [n * wn[name] / wn[name].mean() for n, name in zip(n_layer, names)]
    g = [np.sqrt(a / (mc / c)) for a, mc, c in zip(sens, macs, chans)]
    k = energy / sum(float((mc / c) * gi.sum()) for gi, mc, c in zip(g, macs, chans))
    allocs["global"] = [k * gi for gi in g]
    gl = np.array([math.sqrt(a.sum() / mc) for a, mc in zip(sens, macs)])
    kl = energy / float((macs * gl).sum())
    allocs["layeropt"] = [np.full(c, kl * v) for c, v in zip(chans, gl)]
    allocs["anti"] = [n * a ** -0.5 / (a ** -0.5).mean() for n, a in zip(n_layer, sens)]
    for key in allocs:
        allocs[key] = [np.maximum(n, args.min_photons) for n in allocs[key]]

    def pred_mse(alloc):
        return float(sum((a / n).sum() for a, n in zip(sens, alloc)))

    layers = []
    for i, name in enumerate(names):
        a = sens[i]
        sa = np.sqrt(a)
        layers.append(dict(name=name, channels=chans[i], macs=int(macs[i]), dpcc_photons=n_layer[i],
                           energy_share=float(macs[i] * n_layer[i] / energy),
                           sum_a=float(a.sum()),
                           noise_share_dpcc=float(a.sum() / n_layer[i]),
                           shaping_factor=float(sa.mean() ** 2 / a.mean()),
                           wnorm_factor=float((a / (wn[name] / wn[name].mean())).mean() / a.mean()),
                           a_max_over_mean=float(a.max() / a.mean()),
                           a_cv=float(a.std() / a.mean())))
    tot_noise = sum(l["noise_share_dpcc"] for l in layers)
    for l in layers:
        l["noise_share_dpcc"] /= tot_noise
    for key, al in allocs.items():
        log(f"allocation {key}: mean n {mean_n(al, macs):.3f} ({mean_n(al, macs) * PHOTON_AJ:.3f} aJ/MAC), "
            f"predicted logit MSE {pred_mse(al):.4g}")

    scales = [float(s) for s in args.scales.split(",")]
    scales_for = {}
    for part in filter(None, args.scales_for.split(";")):
        key, vals = part.split(":")
        scales_for[key] = [float(s) for s in vals.split(",")]

    result = dict(settings=vars(args), model=args.model, report=args.report,
                  report_aj_per_mac=report["optical_energy_per_mac_aj"], noise_free=clean,
                  test_inputs=len(x_test), calib_inputs=len(x_cal),
                  seconds_clean_forward=round(t_clean, 1), seconds_sensitivity=round(t_sens, 1),
                  layers=layers,
                  allocations={k: dict(aj_per_mac=mean_n(v, macs) * PHOTON_AJ,
                                       predicted_logit_mse=pred_mse(v),
                                       n_min=float(min(n.min() for n in v)),
                                       n_max=float(max(n.max() for n in v)))
                               for k, v in allocs.items()},
                  points=[], crossing={})

    def write():
        result["wall_seconds"] = round(time.time() - start, 1)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)

    write()
    net.noisy = True
    for key in filter(None, args.allocs.split(",")):
        for s in scales_for.get(key, scales):
            al = [n * s for n in allocs[key]]
            al = [np.maximum(n, args.min_photons) for n in al]
            set_alloc(net, al)
            t0 = time.time()
            accs, mses = [], []
            for j in range(args.seeds):
                net.set_seed(args.seed + 1 + j)
                logits = predict(net, x_test, args.batch)
                accs.append(float((logits.argmax(1) == y_test).double().mean()))
                mses.append(float(((logits - clean_logits) ** 2).sum(1).mean()))
            acc = float(np.mean(accs))
            pt = dict(alloc=key, scale=s, aj_per_mac=mean_n(al, macs) * PHOTON_AJ,
                      predicted_logit_mse=pred_mse(al), measured_logit_mse=float(np.mean(mses)),
                      measured_logit_mse_per_seed=mses, accuracy=acc, per_seed=accs,
                      seed_std=float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
                      drop=clean - acc, seconds=round(time.time() - t0, 1))
            result["points"].append(pt)
            log(f"{key} x{s}: {pt['aj_per_mac']:.3f} aJ/MAC, accuracy {acc:.4f} "
                f"(seeds {', '.join(f'{a:.3f}' for a in accs)}), drop {pt['drop']:.4f}, logit MSE "
                f"{pt['measured_logit_mse']:.4g} (predicted {pt['predicted_logit_mse']:.4g}), {pt['seconds']} s")
            e, how = crossing([p for p in result["points"] if p["alloc"] == key], args.max_drop)
            result["crossing"][key] = dict(aj_per_mac=e, how=how)
            write()
    for key, c in result["crossing"].items():
        log(f"{key}: {c['how']} {c['aj_per_mac']} aJ/MAC at a drop of {args.max_drop}")
    write()


if __name__ == "__main__":
    main()
