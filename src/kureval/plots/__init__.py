"""kureval.plots"""
