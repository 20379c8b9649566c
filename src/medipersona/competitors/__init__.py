"""Competitor analysis (競合分析): competitors within a radius, market stats, population, demand, SWOT."""
