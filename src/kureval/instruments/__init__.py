"""kureval.instruments"""
