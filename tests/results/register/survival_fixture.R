# Fixture for kureval.register.survival: stratified Cox (Breslow ties) and weighted Kaplan–Meier.
# Usage (from this folder): Rscript survival_fixture.R
# Made with R 4.2 (Debian 12), survival 3.5-3.
suppressMessages(library(survival))
set.seed(7301)
n_sets <- 90
d <- do.call(rbind, lapply(seq_len(n_sets), function(s) {
  k <- sample(1:3, 1)
  data.frame(set_id = sprintf("S%03d", s), id = c(sprintf("P%03d", s), sprintf("R%03d", sample(1:150, k))),
             treat = c(1, rep(0, k)), weight = c(1, rep(1 / k, k)), frailty = rgamma(1, 3, 3))
}))
d$id[d$treat == 0] <- make.unique(d$id[d$treat == 0])   # no reuse in the first data set
rate <- 1 / 120 * d$frailty * ifelse(d$treat == 1, 1.5, 1)
t_event <- ceiling(rexp(nrow(d), rate))                  # whole days: many ties
t_cens <- sample(60:364, nrow(d), TRUE)
d$time <- pmin(t_event, t_cens)
d$status <- as.integer(t_event <= t_cens)
d$frailty <- NULL
write.csv(d, "survival_data.csv", row.names = FALSE)
fit <- coxph(Surv(time, status) ~ treat + strata(set_id), data = d, ties = "breslow")
out <- data.frame(model = "coxph_strata_breslow", estimate = coef(fit), se = sqrt(vcov(fit)[1, 1]))
# with reuse: references drawn with replacement across sets, robust variance clustered on person
d2 <- d
d2$id[d2$treat == 0] <- sub("\\..*$", "", d2$id[d2$treat == 0])
write.csv(d2, "survival_data_reuse.csv", row.names = FALSE)
fit2 <- coxph(Surv(time, status) ~ treat + strata(set_id) + cluster(id), data = d2, ties = "breslow")
out <- rbind(out, data.frame(model = "coxph_strata_breslow_cluster_id", estimate = coef(fit2), se = sqrt(vcov(fit2)[1, 1])))
write.csv(out, "survival_cox.csv", row.names = FALSE)
sf <- survfit(Surv(time, status) ~ treat, data = d, weights = weight, conf.type = "log-log", robust = FALSE)
s <- summary(sf)
km <- data.frame(treat = as.integer(sub("treat=", "", s$strata)), time = s$time, surv = s$surv, se = s$std.err,
                 lower = s$lower, upper = s$upper, n_risk = s$n.risk, n_event = s$n.event)
write.csv(km, "survival_km.csv", row.names = FALSE)
print(out); print(head(km)); cat("reused ids:", sum(duplicated(d2$id)), "\n")
