# Reference values for kureval.selfrating (prepost, effect sizes, McNemar, mixed model).
#
# Run from the repository root:   Rscript tests/results/selfrating/anorexia.R
# Written with R 4.2.2, MASS 7.3-58.2, effectsize 0.8.3, lme4 1.1-31 (Debian packages).
# Every CSV in this folder is produced by this script; the Python tests read the
# CSVs only, so CI does not need R.
#
# Direction: every paired statistic is post - pre (x = post, y = pre).
suppressPackageStartupMessages({
  library(MASS)
  library(effectsize)
  library(lme4)
})
out <- "tests/results/selfrating"
options(digits = 17)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE)

# exact noncentral-t CI of d_z by root finding (tighter than effectsize's optim)
ncp_ci <- function(t, df, level = 0.95) {
  a <- (1 - level) / 2
  lo <- suppressWarnings(uniroot(function(ncp) pt(t, df, ncp) - (1 - a), c(t - 15, t + 15), tol = 1e-13))$root
  hi <- suppressWarnings(uniroot(function(ncp) pt(t, df, ncp) - a, c(t - 15, t + 15), tol = 1e-13))$root
  c(lo, hi)
}

paired_row <- function(label, post, pre) {
  d <- post - pre
  n <- length(d)
  tt <- t.test(post, pre, paired = TRUE)
  wx <- suppressWarnings(wilcox.test(post, pre, paired = TRUE, exact = FALSE, correct = TRUE))
  wx_nc <- suppressWarnings(wilcox.test(post, pre, paired = TRUE, exact = FALSE, correct = FALSE))
  nz <- sum(d != 0)
  has_ties <- any(duplicated(abs(d[d != 0])))
  wx_ex <- if (nz > 0 && !has_ties && nz < 50) {
    suppressWarnings(wilcox.test(post, pre, paired = TRUE, exact = TRUE))$p.value
  } else NA
  # kureval's default rounds the differences to 9 decimals before ranking, so that
  # floating-point noise (e.g. 83.3 - 80.5 vs 85.2 - 82.4) neither splits ties nor
  # turns a zero difference into a tiny nonzero one; R ranks the raw doubles.
  d9 <- round(d, 9)
  wx9 <- suppressWarnings(wilcox.test(d9, exact = FALSE, correct = TRUE))
  rb9 <- suppressWarnings(rank_biserial(d9, ci = 0.95))
  cd <- cohens_d(post, pre, paired = TRUE, ci = 0.95)
  hg <- hedges_g(post, pre, paired = TRUE, ci = 0.95)
  rb <- suppressWarnings(rank_biserial(post, pre, paired = TRUE, ci = 0.95))
  tcrit <- unname(tt$statistic)
  nc <- ncp_ci(tcrit, n - 1) / sqrt(n)
  s_av <- sqrt((sd(pre)^2 + sd(post)^2) / 2)
  J <- exp(lgamma((n - 1) / 2) - log(sqrt((n - 1) / 2)) - lgamma((n - 2) / 2))
  data.frame(
    group = label, n_pairs = n,
    mean_pre = mean(pre), sd_pre = sd(pre), median_pre = median(pre), iqr_pre = IQR(pre),
    mean_post = mean(post), sd_post = sd(post), median_post = median(post), iqr_post = IQR(post),
    mean_diff = unname(tt$estimate), diff_ci_low = tt$conf.int[1], diff_ci_high = tt$conf.int[2],
    t = tcrit, df = unname(tt$parameter), p_t = tt$p.value,
    wilcoxon_v = unname(wx$statistic), p_wilcoxon = wx$p.value,
    p_wilcoxon_nocorrect = wx_nc$p.value, p_wilcoxon_exact = wx_ex,
    d_z = cd$Cohens_d, d_z_ci_low = cd$CI_low, d_z_ci_high = cd$CI_high,
    d_z_ci_low_uniroot = nc[1], d_z_ci_high_uniroot = nc[2],
    g_z = hg$Hedges_g, hedges_J = hg$Hedges_g / cd$Cohens_d,
    d_av = mean(d) / s_av, g_av = J * mean(d) / s_av,
    rank_biserial = rb$r_rank_biserial, rb_ci_low = rb$CI_low, rb_ci_high = rb$CI_high,
    wilcoxon_v_r9 = unname(wx9$statistic), p_wilcoxon_r9 = wx9$p.value,
    rank_biserial_r9 = rb9$r_rank_biserial, rb_ci_low_r9 = rb9$CI_low, rb_ci_high_r9 = rb9$CI_high
  )
}

# ---- 1. MASS::anorexia (Hand et al. 1994), per treatment, Postwt vs Prewt ------------
data(anorexia, package = "MASS")
an <- anorexia
an$id <- seq_len(nrow(an))
wcsv(an[, c("id", "Treat", "Prewt", "Postwt")], "anorexia_data.csv")
res <- do.call(rbind, lapply(levels(an$Treat), function(g) {
  s <- an[an$Treat == g, ]
  paired_row(g, s$Postwt, s$Prewt)
}))
res <- rbind(res, paired_row("all", an$Postwt, an$Prewt))
wcsv(res, "anorexia_paired.csv")

# ---- 2. integer scores with zero differences and ties (HADS-like, 0-21) ----------------
set.seed(20240501)
n <- 40
pre <- pmin(21, pmax(0, round(rnorm(n, 10, 4))))
post <- pmin(21, pmax(0, pre + sample(c(-4:2), n, replace = TRUE)))
ties <- data.frame(id = seq_len(n), pre = pre, post = post)
wcsv(ties, "ties_data.csv")
wcsv(paired_row("ties", post, pre), "ties_paired.csv")
# small sample without ties or zeros, for the exact Wilcoxon p
small <- data.frame(id = 1:9, pre = c(12.1, 9.4, 15.0, 11.2, 8.8, 13.7, 10.5, 14.2, 9.9),
                    post = c(10.3, 9.9, 11.1, 10.0, 8.1, 9.4, 10.2, 12.0, 6.6))
wcsv(small, "small_data.csv")
wcsv(paired_row("small", small$post, small$pre), "small_paired.csv")

# ---- 3. McNemar ----------------------------------------------------------------------
# Agresti (2007), An Introduction to Categorical Data Analysis, 2nd ed., table 8.1:
# approval of the president's performance in two surveys a month apart (n = 1600):
# first yes/second yes 794, yes/no 150, no/yes 86, no/no 570. Agresti reports
# z^2 = (86 - 150)^2 / (86 + 150) = 17.36 (no continuity correction), p < 0.001.
mcn <- function(label, tab) {
  b <- tab[1, 2]; c <- tab[2, 1]
  m0 <- mcnemar.test(tab, correct = FALSE)
  m1 <- mcnemar.test(tab, correct = TRUE)
  bt <- binom.test(min(b, c), b + c, 0.5)
  data.frame(table = label, a = tab[1, 1], b = b, c = c, d = tab[2, 2],
             chi2 = unname(m0$statistic), p_chi2 = m0$p.value,
             chi2_cc = unname(m1$statistic), p_chi2_cc = m1$p.value,
             p_exact = bt$p.value)
}
agresti <- matrix(c(794, 86, 150, 570), 2, 2)  # rows = survey 1 (yes, no), cols = survey 2
small_tab <- matrix(c(20, 3, 9, 15), 2, 2)
wcsv(rbind(mcn("agresti_8_1", agresti), mcn("small", small_tab)), "mcnemar.csv")

# ---- 4. linear mixed model: random intercept per person, time categorical -------------
set.seed(7)
np <- 60
tp <- c("start", "end", "6m", "12m")
u <- rnorm(np, 0, 3)
rows <- list()
for (i in seq_len(np)) {
  last <- sample(1:4, 1, prob = c(0.15, 0.2, 0.25, 0.4))  # dropout after time point `last`
  for (k in seq_len(last)) {
    if (k > 1 && runif(1) < 0.1) next                    # intermittent missing
    rows[[length(rows) + 1]] <- data.frame(
      person_id = sprintf("p%03d", i), timepoint = tp[k],
      score = round(50 + c(0, 4, 3, 2)[k] + u[i] + rnorm(1, 0, 4), 1))
  }
}
mm <- do.call(rbind, rows)
wcsv(mm, "mixed_data.csv")
mm$timepoint <- factor(mm$timepoint, levels = tp)
fit <- lmer(score ~ timepoint + (1 | person_id), data = mm, REML = TRUE)
fe <- fixef(fit); V <- as.matrix(vcov(fit))
L <- rbind(c(1, 0, 0, 0), c(1, 1, 0, 0), c(1, 0, 1, 0), c(1, 0, 0, 1))
vc <- as.data.frame(VarCorr(fit))
wcsv(data.frame(term = names(fe), estimate = unname(fe), se = sqrt(diag(V))), "mixed_fixef.csv")
wcsv(data.frame(timepoint = tp, mean = drop(L %*% fe), se = sqrt(diag(L %*% V %*% t(L)))),
     "mixed_means.csv")
wcsv(data.frame(component = c("person_id", "residual"), variance = vc$vcov,
                reml = REMLcrit(fit)), "mixed_varcomp.csv")
cat("written to", out, "\n")
