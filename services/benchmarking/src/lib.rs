//! The benchmarking service (being built): statistics, comparisons, trends, inequality, profiles.
