"""kureval.register"""
