"""Every paper value the book quotes, with the seed file and the table or figure it comes from.

The book and the tests read these; nothing else in the repo types a paper number.
"""
from __future__ import annotations

from dataclasses import dataclass

SEED_QUICKDRAW = "000_b276cd025f8c8c73.txt"
SEED_KTH = "002_e8e2b0b656892e08.txt"
SEED_PIPELINE = "003_4ce0f1eb6a214195.txt"
SEED_TRICKS = "004_939797d3d90f3ccb.txt"


@dataclass(frozen=True)
class PaperValue:
    value: object
    seed: str
    where: str
    note: str = ""

    @property
    def source(self) -> str:
        return f"{self.seed}, {self.where}"


V = PaperValue
PAPER = {
    # --- LR range test readings
    "kth.range_test.selected_log10_lr": V(-2.12, SEED_KTH, "§4.2.1, Fig. 1",
                                          "max LR chosen just left of divergence (~10^-2), MobileNetV2 on Oxflower17"),
    "kth.range_test.divergence_log10_lr": V(-2.0, SEED_KTH, "§4.2.1, Fig. 1",
                                            "overfitting/divergence point 'around 10^{-2}': where the loss starts to rise"),
    "kth.clr.min_fraction": V((1 / 4, 1 / 3), SEED_KTH, "§4.3", "CLR min = 1/3-1/4 of the optimal constant LR"),
    "kth.clr.step_epochs": V((2, 10), SEED_KTH, "§4.3", "step size = 2-10 epochs of iterations"),
    "kth.sc.max_over_min": V(10, SEED_KTH, "§4.4", "super-convergence: max LR = 10 × optimal constant LR"),
    "kth.sc.momentum": V((0.85, 0.9), SEED_KTH, "§4.4", "cyclic momentum 0.9 -> 0.85 -> 0.9"),
    "pipeline.min_over_max": V(0.1, SEED_PIPELINE, "One Cycle description", "min LR = max/10"),
    "pipeline.annihilation": V(0.01, SEED_PIPELINE, "One Cycle description",
                               "last 10% of iterations: LR down to 1/100 of the min"),
    "tricks.range_test.below_min": V(10, SEED_TRICKS, "CLR overview, 'Selecting better learning rate'",
                                     "optimal LR approx. one order smaller than the range-test minimum"),
    "tricks.range_test.rule_of_thumb": V((2, 3), SEED_TRICKS, "CLR overview, 'Selecting better learning rate'",
                                         "optimal LR = the range-test minimum divided by 2 to 3, 'as a rule of thumb'"),
    # --- Smith & Topin's headline, as quoted by 002 §1 (and 004, super-convergence pages)
    "smith_topin.resnet56.onecycle_acc": V(92.4, SEED_KTH, "§1", "ResNet-56, CIFAR-10, super-convergence"),
    "smith_topin.resnet56.piecewise_acc": V(91.2, SEED_KTH, "§1", "ResNet-56, CIFAR-10, piecewise constant"),
    # 002 prints 1,000 and 8,000 iterations; Smith & Topin's own paper (not among the seeds) is
    # usually quoted at ~10k and ~80k. Either way the budget ratio is 1:8, which is what we test.
    "smith_topin.resnet56.onecycle_iters": V(1_000, SEED_KTH, "§1", "as printed in 002"),
    "smith_topin.resnet56.piecewise_iters": V(8_000, SEED_KTH, "§1", "as printed in 002"),
    # --- KTH Table 1
    "kth.table1.simple.cifar10": V(dict(lr=0.04, wd=3e-7, momentum=0.9), SEED_KTH, "Table 1"),
    "kth.table1.mobilenet_v2.cifar10": V(dict(lr=0.002, wd=3e-6, momentum=0.9), SEED_KTH, "Table 1"),
    "kth.table1.vgg16_bn.cifar10": V(dict(lr=0.01288, wd=1e-6, momentum=0.9), SEED_KTH, "Table 1"),
    "kth.table1.simple.oxflower17": V(dict(lr=0.0084, wd=1e-6, momentum=0.9), SEED_KTH, "Table 1"),
    "kth.table1.vgg16_bn.oxflower17": V(dict(lr=0.01023, wd=1e-6, momentum=0.9), SEED_KTH, "Table 1"),
    "kth.table1.mobilenet_v2.oxflower17": V(dict(lr=0.00758, wd=1e-6, momentum=0.9), SEED_KTH, "Table 1"),
    "kth.table1.mobilenet_v2.tinyimagenet": V(dict(lr=0.16, wd=1e-7, momentum=0.9), SEED_KTH, "Table 1"),
    # --- KTH method (§4.2) and claims (§5, §6)
    "kth.momentum.range": V((0.85, 0.99), SEED_KTH, "§4.2.2, Fig. 2", "momenta compared"),
    "kth.momentum.selected": V(0.9, SEED_KTH, "§4.2.2, Fig. 2", "0.9 best on all networks and data sets"),
    "kth.wd.coarse_range": V((1e-2, 1e-7), SEED_KTH, "§4.2.3, Fig. 3", "coarse search range"),
    "kth.wd.coarse_best": V(1e-7, SEED_KTH, "§4.2.3, Fig. 3", "lowest loss in the coarse search"),
    "kth.wd.fine_best": V(1e-6, SEED_KTH, "§4.2.3, Fig. 4", "fine search: 1e-6 beats the lower 1e-7"),
    "kth.claim.sc_fails_simple_cifar10": V("super convergence completely fails", SEED_KTH, "§5.2, Fig. 5",
                                           "simple CNN on CIFAR-10"),
    "kth.claim.clr_helps_early_simple": V("CLR helps early; final accuracy close to constant", SEED_KTH,
                                          "§5.2, Fig. 5"),
    "kth.claim.sc_less_labelled": V("SC more effective with limited labelled data", SEED_KTH,
                                    "§5.2 Fig. 6 and §6", "simple CNN on Oxflower17 (80 images per class)"),
    "kth.claim.clr_early_vgg16": V("CLR wins in the very beginning", SEED_KTH, "§5.3, Fig. 7",
                                   "VGG16 on CIFAR-10"),
    "kth.claim.mobilenet_sc_epochs": V(12, SEED_KTH, "§5.4, Fig. 9",
                                       "MobileNetV2 on CIFAR-10: SC performs well in only 12 epochs; CLR bad"),
    "kth.claim.tinyimagenet_gain_points": V(20, SEED_KTH, "§5.4, Fig. 11",
                                            "MobileNetV2 on TinyImageNet: SC ~20% above constant LR"),
    "kth.claim.tinyimagenet_iter_fraction": V(0.5, SEED_KTH, "§5.4, Fig. 11", "with half the iterations"),
    "kth.data.oxflower17_per_class": V(80, SEED_KTH, "§3.2", "17 categories with only 80 images for each class"),
    # --- the production pipeline's KPI
    "pipeline.quarter_epochs_within": V(3.0, SEED_PIPELINE, "Achievements",
                                        "one-cycle within 3% of baseline validation accuracy in 1/4 of the epochs"),
    # --- 003's schedule and KPI, the rest of it (chapter one_cycle_pipeline)
    "pipeline.peak_at": V(0.5, SEED_PIPELINE, "One Cycle description",
                          "LR rises from min to max 'until 50% of total training iterations'"),
    "pipeline.annihilation_tail": V(0.1, SEED_PIPELINE, "One Cycle description",
                                    "'In last 10% of training iterations, learning rate is annihilated'"),
    "pipeline.epochs_fraction": V(0.25, SEED_PIPELINE, "Achievements", "'in a quarter of the number of epochs'"),
    "pipeline.future_work": V("automate the LR read-off, weight decay and BN momentum", SEED_PIPELINE,
                              "Further development", "'Would require signal processing'"),
    # --- Smith & Topin's qualitative claims on 004's super-convergence pages (chapter resnet_superconvergence)
    "smith_topin.range_test_shape": V("accuracy stays high up to large LRs", SEED_TRICKS,
                                      "Super Convergence pages, Figure 2(b)",
                                      "LR range test, Resnet-56 on Cifar-10, against the typical peak of Fig. 2(a)"),
    "smith_topin.less_regularization": V("larger LR requires smaller other regularization", SEED_TRICKS,
                                         "Super Convergence pages, Comments and Figure 5(b) 'The effect of weight decay'"),
    # --- Quick, Draw! (000)
    "quickdraw.map3.conventional.epoch1": V(0.81595, SEED_QUICKDRAW, "results table (private score)"),
    "quickdraw.map3.conventional.epoch2": V(0.85421, SEED_QUICKDRAW, "results table (private score)"),
    "quickdraw.map3.onecycle.epoch1": V(0.90641, SEED_QUICKDRAW, "results table (private score)"),
    "quickdraw.map3.onecycle.epoch2": V(0.92928, SEED_QUICKDRAW, "results table (private score)"),
    "quickdraw.n_drawings": V(50_000_000, SEED_QUICKDRAW, "The Dataset", "50 million training images"),
    "quickdraw.n_classes": V(340, SEED_QUICKDRAW, "The Dataset", "340 categories, noisy labels"),
    "quickdraw.image_size": V(128, SEED_QUICKDRAW, "The Dataset", "PyTorch: drawn on the fly as 128×128 RGB"),
    "quickdraw.tf_storage_tb": V(2, SEED_QUICKDRAW, "The Dataset", "TensorFlow: takes more than 2TB of space"),
    "quickdraw.hours_before": V(48, SEED_QUICKDRAW, "The Dataset", "until 2 months ago, training time ≈ 2 days"),
    "quickdraw.hours_after": V(3.5, SEED_QUICKDRAW, "The Dataset", "now, training time ≈ 3.5 hours"),
    # --- large-batch pages of 004 (chapter large_batch): Goyal et al. Table 1 / Table 2a, Fig. 3, 7;
    #     Smith et al. "Don't decay the LR", Figures 2 and 5; Bag of Tricks Table 4
    "goyal.table1.baseline": V(dict(k=8, n=32, kn=256, lr=0.1, err=23.60, std=0.12), SEED_TRICKS,
                               "Goyal et al., Table 1", "ResNet-50, ImageNet top-1 error %, 5 trials"),
    "goyal.table1.no_warmup": V(dict(k=256, n=32, kn=8192, lr=3.2, err=24.84, std=0.37), SEED_TRICKS,
                                "Goyal et al., Table 1", "no warmup, Figure 2a"),
    "goyal.table1.constant_warmup": V(dict(k=256, n=32, kn=8192, lr=3.2, err=25.88, std=0.56), SEED_TRICKS,
                                      "Goyal et al., Table 1", "constant warmup, Figure 2b"),
    "goyal.table1.gradual_warmup": V(dict(k=256, n=32, kn=8192, lr=3.2, err=23.74, std=0.09), SEED_TRICKS,
                                     "Goyal et al., Table 1", "gradual warmup, Figure 2c"),
    # Table 2a rows: (kn, LR rule as printed, LR, err %, std); the 8k rows are the large batch
    "goyal.table2a.rows": V((
        (256, "0.05", 0.05, 23.92, 0.10), (256, "0.10", 0.10, 23.60, 0.12), (256, "0.20", 0.20, 23.68, 0.09),
        (8192, "0.05·32", 1.6, 24.27, 0.08), (8192, "0.10·32", 3.2, 23.74, 0.09),
        (8192, "0.20·32", 6.4, 24.05, 0.18), (8192, "0.10", 0.10, 41.67, 0.10),
        (8192, "0.10·√32", 0.10 * 32 ** 0.5, 26.22, 0.03)), SEED_TRICKS, "Goyal et al., Table 2a",
        "comparison of LR scaling rules; top-1 error %, mean ± std"),
    "goyal.fig3.curves_match": V("training curves closely match the baseline (aside from the warmup period) "
                                 "up through 8k minibatches", SEED_TRICKS, "Goyal et al., Figure 3 caption"),
    "goyal.fig7.epoch_seconds": V(30, SEED_TRICKS, "Goyal et al., Figure 7 caption",
                                  "one pass over ~1.28 million ImageNet images in about 30 s with 352 GPUs"),
    "goyal.fig7.gpus": V(352, SEED_TRICKS, "Goyal et al., Figure 7 caption", "44 servers"),
    "goyal.fig7.images": V(1_280_000, SEED_TRICKS, "Goyal et al., Figure 7 caption", "~1.28 million"),
    "goyal.noise_scale": V("g = λ(N/B − 1)", SEED_TRICKS, "Goyal et al., 'Motivations for the linear scaling rule'",
                           "keep g constant: k-times bigger batch needs k-times bigger LR"),
    "smith.factor": V(5, SEED_TRICKS, "Smith et al., 'Discussion' (blue/green/red curves)",
                      "decay LR by 5 / increase batch by 5, then decay LR by 5 / increase batch by 5"),
    "smith.fig2.claim": V("the three learning curves are identical, but increasing the batch size reduces "
                          "the number of parameter updates required", SEED_TRICKS,
                          "Smith et al., Figure 2 caption (Wide ResNet, CIFAR-10)"),
    "smith.fig5.claim": V("test accuracy as a function of parameter updates: increasing the batch size "
                          "replaces LR decay", SEED_TRICKS, "Smith et al., Figure 5 caption"),
    "smith.fig5.initial_lr": V((0.1, 0.5), SEED_TRICKS, "Smith et al., Figure 5 caption",
                               "'Increased initial learning rate' raises the initial LR from 0.1 to 0.5"),
    "smith.fig5.momentum": V((0.9, 0.98), SEED_TRICKS, "Smith et al., Figure 5 caption",
                             "'Increased momentum coefficient' also raises the momentum from 0.9 to 0.98"),
    "tricks.table4.bs1024.linear_scaling_top1": V(75.17, SEED_TRICKS, "Bag of Tricks Table 4",
                                                  "ResNet-50, BS=1024, linear scaling"),
    "tricks.table4.bs1024.warmup_top1": V(75.93, SEED_TRICKS, "Bag of Tricks Table 4",
                                          "ResNet-50, BS=1024, + LR warmup"),
    # --- CLR Table 3 (004)
    "clr.table3.nesterov.fixed.70k": V(82.1, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.nesterov.triangular.25k": V(81.3, SEED_TRICKS, "CLR Table 3", "bounds 0.001-0.006"),
    # --- the rest of CLR Table 3 and the CLR/SGDR/momentum pages of 004 (chapter clr_sgdr)
    "clr.table3.nesterov.bounds": V((0.001, 0.006), SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adam.fixed.70k": V(81.4, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adam.triangular.25k": V(79.8, SEED_TRICKS, "CLR Table 3", "bounds 0.0005-0.002"),
    "clr.table3.adam.triangular.70k": V(81.1, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adam.bounds": V((0.0005, 0.002), SEED_TRICKS, "CLR Table 3"),
    "clr.table3.rmsprop.fixed.70k": V(75.2, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.rmsprop.triangular.25k": V(72.8, SEED_TRICKS, "CLR Table 3", "bounds 0.0001-0.0003"),
    "clr.table3.rmsprop.triangular.70k": V(75.1, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.rmsprop.bounds": V((0.0001, 0.0003), SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adagrad.fixed.70k": V(74.6, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adagrad.triangular.25k": V(76.0, SEED_TRICKS, "CLR Table 3", "bounds 0.003-0.035"),
    "clr.table3.adagrad.bounds": V((0.003, 0.035), SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adadelta.fixed.70k": V(67.3, SEED_TRICKS, "CLR Table 3"),
    "clr.table3.adadelta.triangular.25k": V(67.3, SEED_TRICKS, "CLR Table 3", "bounds 0.01-0.1"),
    "clr.table3.adadelta.bounds": V((0.01, 0.1), SEED_TRICKS, "CLR Table 3"),
    "clr.table3.iterations": V((70_000, 25_000), SEED_TRICKS, "CLR Table 3", "fixed budget N and CLR's short budget"),
    "clr.inconsistent": V("results are quite inconsistent in terms of final validation accuracy", SEED_TRICKS,
                          "CLR overview, 'Discussion of the results'"),
    "clr.policy_shape": V("the shape of the policy does not change the final result significantly", SEED_TRICKS,
                          "CLR overview, 'Cyclical Learning Rates - general overview', Comments"),
    "clr.range_rule.divisors": V((10, 3), SEED_TRICKS, "CLR overview, LR range test ('A method for finding "
                                 "optimal LR')", "the LR at the minimum of the plot, then 'approx. one order "
                                 "smaller, or 1/2 - 1/3 as a rule of thumb'"),
    "sgdr.fig1.t0_epochs": V((1, 10), SEED_TRICKS, "SGDR Figure 1", "warm restarts from epoch T0 = 1 and T0 = 10"),
    "sgdr.fig1.t_mult": V(2, SEED_TRICKS, "SGDR Figure 1", "doubling periods T_i"),
    "sgdr.fig1.eta_max": V(0.05, SEED_TRICKS, "SGDR Figure 1", "eta_max^i = 0.05, eta_min^i = 0"),
    "sgdr.fig1.step": V(dict(lr=0.1, gamma=0.2, milestones=(60, 120, 160), epochs=200), SEED_TRICKS,
                        "SGDR Figure 1", "default scheme of Zagoruyko & Komodakis (eta_0 = 0.1, also 0.05); "
                        "the milestones and factor are WRN's, the figure only draws them"),
    "sgdr.restarts_help": V("restarts in LR schedule seem to improve convergence", SEED_TRICKS,
                            "SGDR (2017) page"),
    "momentum.T": V({0.5: 1.44, 0.9: 10, 0.95: 20, 0.99: 100, 0.995: 200, 0.999: 1000}, SEED_TRICKS,
                    "AdamW pages, 'how to interpret momentum term?' table", "T = -1/ln(beta), printed as ~"),
    "momentum.beta2_1000": V(1000, SEED_TRICKS, "AdamW pages, 'how to interpret momentum term?', Note",
                             "beta=0.999: about 1000 iterations to significantly change the vector; "
                             "with a small number of batches decrease T"),
    # --- AdamW pages of 004 (Loshchilov & Hutter): the claims are qualitative, figures only
    "adamw.alg2.defaults": V(dict(alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8), SEED_TRICKS,
                             "AdamW pages, Algorithm 2, line 1"),
    "adamw.fig2.epochs": V(100, SEED_TRICKS, "AdamW pages, Figure 2", "26 2x64d ResNet on CIFAR-10"),
    "adamw.fig2.separable": V("more separable (WD and LR decoupled)", SEED_TRICKS,
                              "AdamW pages, 'experimental results', Figure 2"),
    "adamw.generalization": V("smaller test error", SEED_TRICKS,
                              "AdamW pages, 'experimental results'"),
    "adamw.suppfig1.t0_epochs": V(100, SEED_TRICKS, "AdamW pages, SuppFigure 1", "T_0 of the example schedule"),
    "adamw.suppfig1.t_mult": V(2, SEED_TRICKS, "AdamW pages, SuppFigure 1", "T_i+1 = T_i * T_mult"),
    "adamw.adamwr": V("even better performance", SEED_TRICKS, "AdamW pages, Figure 4",
                      "AdamWR vs AdamW, CIFAR-10 and ImageNet32x32"),
    "adamw.stationary": V("gradient cannot vanish", SEED_TRICKS,
                          "AdamW pages, 'weight decay (WD) and overfitting'"),
    "adamw.sgd_equivalent": V("both are equivalent when we use simple SGD optimizer", SEED_TRICKS,
                              "AdamW pages, 'a confusion in terminology'",
                              "L2 regularization and weight decay, (1 − λβ)W − λ∂L/∂W: plain SGD, no momentum"),
    # --- label smoothing (004, label-smoothing pages)
    "label_smoothing.eps_usual": V(0.1, SEED_TRICKS, "'Label smoothing' definition", "epsilon usually 0.1"),
    "label_smoothing.toy.eps": V(0.1, SEED_TRICKS, "'Label smoothing - motivations'", "toy model with LS"),
    "label_smoothing.toy.lsce_formula": V("(1 - ε)·log(1 + 2e^{-2a}) + (2ε/3)·log(2 + e^{2a})", SEED_TRICKS,
                                          "'Label smoothing - motivations'", "L_LSCE(a) as printed"),
    "label_smoothing.inception.rmsprop.top1_err": V(23.1, SEED_TRICKS, "'Label smoothing - results' table",
                                                    "Inception-v2 RMSProp, ImageNet top-1 error %"),
    "label_smoothing.inception.ls.top1_err": V(22.8, SEED_TRICKS, "'Label smoothing - results' table",
                                               "Inception-v2 RMSProp + label smoothing, top-1 error %"),
    "label_smoothing.inception.rmsprop.top5_err": V(6.3, SEED_TRICKS, "'Label smoothing - results' table"),
    "label_smoothing.inception.ls.top5_err": V(6.1, SEED_TRICKS, "'Label smoothing - results' table"),
    "label_smoothing.bot.resnet50d.cosine.top1": V(77.91, SEED_TRICKS, "Bag of Tricks refinements table",
                                                   "ResNet-50-D + cosine decay, ImageNet top-1 %"),
    "label_smoothing.bot.resnet50d.ls.top1": V(78.31, SEED_TRICKS, "Bag of Tricks refinements table",
                                               "ResNet-50-D + cosine + label smoothing, top-1 %"),
    "label_smoothing.bot.fig4_gap": V("decreases as ε increases", SEED_TRICKS, "Bag of Tricks Figure 4",
                                      "theoretical gap between z*_p and the others; empirical gap "
                                      "between the maximum prediction and the average of the rest"),
    # --- mixup pages of 004 (chapter mixup_fixup): Zhang et al. Table 1 / Figure 3a (errors %)
    "mixup.imagenet.resnet50.erm_90": V(23.5, SEED_TRICKS, "mixup Table 1", "ResNet-50, ERM (Goyal et al.), 90 epochs, top-1 error %"),
    "mixup.imagenet.resnet50.mixup02_90": V(23.3, SEED_TRICKS, "mixup Table 1", "ResNet-50, mixup α=0.2, 90 epochs"),
    "mixup.imagenet.resnet50.erm_200": V(23.6, SEED_TRICKS, "mixup Table 1", "ResNet-50, ERM, 200 epochs"),
    "mixup.imagenet.resnet50.mixup02_200": V(22.1, SEED_TRICKS, "mixup Table 1", "ResNet-50, mixup α=0.2, 200 epochs"),
    "mixup.cifar10.preact18.erm": V(5.6, SEED_TRICKS, "mixup Figure 3a table", "CIFAR-10, PreAct ResNet-18, ERM test error %"),
    "mixup.cifar10.preact18.mixup": V(4.2, SEED_TRICKS, "mixup Figure 3a table", "CIFAR-10, PreAct ResNet-18, mixup"),
    "mixup.strong_regularizer": V("mixup is an extremely strong regularizer", SEED_TRICKS, "'mixup:' notes"),
    # --- ZeroInit (Fixup) pages of 004: Table 2 (ImageNet test error %) and the recipe
    "zeroinit.table2.r50.bn": V(23.6, SEED_TRICKS, "ZeroInit Table 2", "ResNet-50, BatchNorm (Goyal et al.)"),
    "zeroinit.table2.r50.bn_mixup": V(23.3, SEED_TRICKS, "ZeroInit Table 2", "ResNet-50, BatchNorm + Mixup"),
    "zeroinit.table2.r50.gn_mixup": V(23.9, SEED_TRICKS, "ZeroInit Table 2", "ResNet-50, GroupNorm + Mixup"),
    "zeroinit.table2.r50.xavier": V(31.5, SEED_TRICKS, "ZeroInit Table 2", "ResNet-50, Xavier init, no normalization"),
    "zeroinit.table2.r50.zeroinit": V(27.6, SEED_TRICKS, "ZeroInit Table 2", "ResNet-50, ZeroInit"),
    "zeroinit.table2.r50.zeroinit_mixup": V(24.0, SEED_TRICKS, "ZeroInit Table 2", "ResNet-50, ZeroInit + Mixup"),
    "zeroinit.table2.r101.bn": V(22.0, SEED_TRICKS, "ZeroInit Table 2", "ResNet-101, BatchNorm"),
    "zeroinit.table2.r101.bn_mixup": V(20.8, SEED_TRICKS, "ZeroInit Table 2", "ResNet-101, BatchNorm + Mixup"),
    "zeroinit.table2.r101.gn_mixup": V(21.4, SEED_TRICKS, "ZeroInit Table 2", "ResNet-101, GroupNorm + Mixup"),
    "zeroinit.table2.r101.zeroinit_mixup": V(21.4, SEED_TRICKS, "ZeroInit Table 2", "ResNet-101, ZeroInit + Mixup"),
    "zeroinit.fig3.claim": V("ZeroInit trains very deep networks with the same learning rate as batch normalization",
                             SEED_TRICKS, "ZeroInit Figure 3 caption", "test accuracy after the first epoch vs depth, LR 0.1"),
    "zeroinit.fig3.lr": V(0.1, SEED_TRICKS, "ZeroInit 'Selected results' (Figure 3)", "high learning rate 0.1"),
    "zeroinit.needs_regularization": V("ZeroInit requires additional regularization", SEED_TRICKS,
                                       "ZeroInit 'Selected results' (Figure 5, Table 2)"),
    "zeroinit.fig5.claim": V("ZeroInit is able to better fit the training data and that leads to "
                             "overfitting - more regularization is needed", SEED_TRICKS,
                             "ZeroInit Figure 5 caption", "ResNet-50, ImageNet, without additional regularization"),
    "zeroinit.fig4.batch_size": V(128, SEED_TRICKS, "ZeroInit Figure 4 caption",
                                  "minibatch size of 128 (ResNet-110, CIFAR-10, the first 3 epochs)"),
    "mixup.toy.alpha": V(1.0, SEED_TRICKS, "mixup Figure 1(b)", "Effect of mixup (α = 1) on a toy problem"),
    "mixup.imagenet.alphas": V((0.2, 0.4), SEED_TRICKS, "mixup Table 1",
                               "the α of the ImageNet rows: 0.2 (ResNet-50/101), 0.4 (ResNeXt-101)"),
    # --- Bag of Tricks Tables 4, 5, 6 (ImageNet top-1 %)
    "bot.table4.bs256": V({"linear scaling": 75.87, "+ LR warmup": 76.03, "+ zero γ": 76.19,
                           "+ no bias decay": 76.16}, SEED_TRICKS, "Bag of Tricks Table 4", "ResNet-50, BS=256, top-1 %"),
    "bot.table4.bs1024": V({"linear scaling": 75.17, "+ LR warmup": 75.93, "+ zero γ": 76.37,
                            "+ no bias decay": 76.03}, SEED_TRICKS, "Bag of Tricks Table 4", "ResNet-50, BS=1024, top-1 %"),
    "bot.table5": V({"A": 76.21, "B": 76.66, "C": 76.87, "D": 77.16}, SEED_TRICKS, "Bag of Tricks Table 5",
                    "ResNet-50 and its -B/-C/-D tweaks (cumulative), top-1 %"),
    "bot.table6.resnet50d": V({"efficient": 77.16, "+ cosine decay": 77.91, "+ label smoothing": 78.31,
                               "+ distill w/o mixup": 78.67, "+ mixup w/o distill": 79.15,
                               "+ distill w/ mixup": 79.29}, SEED_TRICKS, "Bag of Tricks Table 6",
                              "ResNet-50-D refinements, top-1 %"),
    "bot.distill_loss": V("ℓ(p, softmax(z)) + T²·ℓ(softmax(r/T), softmax(z/T))", SEED_TRICKS,
                          "Bag of Tricks §4, Knowledge Distillation", "z student, r teacher logits"),
    # --- Bag of Tricks low precision (chapter bag_of_tricks): Table 4's "+ FP16" row and its slide
    "bot.table4.fp16": V({"BS=256": 76.15, "BS=1024": 76.21}, SEED_TRICKS, "Bag of Tricks Table 4",
                         "ResNet-50, + FP16 (after + no bias decay), top-1 % per batch-size column"),
    "bot.fp16.purpose": V("use float 16 instead float 32 to speed up computations (this will depend on GPU)",
                          SEED_TRICKS, "Bag of Tricks pages, '2. Use low precision training'"),
    "bot.fp16.storage": V("keep activations and updates at 16bit precision, keep weights in 32bit", SEED_TRICKS,
                          "Bag of Tricks pages, '2. Use low precision training'", "to reduce the overflow problem"),
}


def get(key: str) -> PaperValue:
    try:
        return PAPER[key]
    except KeyError:
        raise KeyError(f"no paper value {key!r}; known keys start with: "
                       f"{sorted({k.split('.')[0] for k in PAPER})}") from None


def value(key: str):
    return get(key).value
