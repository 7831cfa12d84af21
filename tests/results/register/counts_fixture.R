# Fixture for kureval.register.counts (Poisson / negative binomial ratio of rate ratios)
# and kureval.register.compare.did (change-score ATT) on simulated matched windows.
# Usage (from this folder): Rscript counts_fixture.R
# Made with R 4.2 (Debian 12), MASS 7.3-58.2, sandwich 3.0-2, lmtest 0.9-40.
suppressMessages({library(MASS); library(sandwich); library(lmtest)})
set.seed(20261122)
n_sets <- 120
sets <- do.call(rbind, lapply(seq_len(n_sets), function(s) {
  k <- sample(1:3, 1)                                  # 1:k matching, k varies by set
  data.frame(set_id = sprintf("S%03d", s), id = sprintf("S%03d_%d", s, 0:k),
             treat = c(1, rep(0, k)), weight = c(1, rep(1 / k, k)), frailty = rgamma(1, 2, 2))
}))
long <- do.call(rbind, lapply(c("pre", "post"), function(win) {
  d <- sets
  d$window <- win
  d$exposure_days <- ifelse(runif(nrow(d)) < 0.1, sample(30:364, nrow(d), TRUE), 365)
  rate <- 4 / 365 * d$frailty * ifelse(win == "post", 1.1, 1) * ifelse(win == "post" & d$treat == 1, 0.7, 1)
  d$y <- rnbinom(nrow(d), size = 1.5, mu = rate * d$exposure_days)
  d
}))
long$frailty <- NULL
write.csv(long, "counts_data.csv", row.names = FALSE)
long$post <- as.integer(long$window == "post")
f <- y ~ treat * post + offset(log(exposure_days))
out <- list()
add <- function(model, fit, theta = NA) {
  ct <- coeftest(fit, vcov. = vcovCL, cluster = ~set_id)   # glm default type HC0, cadjust G/(G-1)
  data.frame(model = model, term = rownames(ct), estimate = ct[, 1], se = ct[, 2], p = ct[, 4], theta = theta)
}
fp <- suppressWarnings(glm(f, family = poisson, data = long, weights = weight))
out[[1]] <- add("poisson", fp)
fn <- suppressWarnings(glm.nb(f, data = long, weights = weight, control = glm.control(epsilon = 1e-12, maxit = 100)))
out[[2]] <- add("negbin", fn, fn$theta)
wide <- reshape(long[, c("set_id", "id", "treat", "weight", "window", "y")], idvar = c("set_id", "id", "treat", "weight"),
                timevar = "window", direction = "wide")
wide$change <- wide$y.post - wide$y.pre
fl <- lm(change ~ treat, data = wide, weights = weight)
ct <- coeftest(fl, vcov. = vcovCL, cluster = ~set_id, type = "HC1")
out[[3]] <- data.frame(model = "lm_change", term = rownames(ct), estimate = ct[, 1], se = ct[, 2], p = ct[, 4], theta = NA)
res <- do.call(rbind, out)
write.csv(res, "counts_results.csv", row.names = FALSE)
print(res)
