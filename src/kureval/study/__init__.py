"""kureval.study"""
