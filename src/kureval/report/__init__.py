"""kureval.report"""
