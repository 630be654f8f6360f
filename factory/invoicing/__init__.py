"""Invoices: EN 16931 totals, gapless numbers' formatting, Factur-X XML in a PDF/A-3.

Takes an invoice job and its records; gives the computed values the invoice templates print
(`totals`), the e-invoice XML embedded in the PDF (`einvoice`) and the document-type plugin the
pipeline calls around rendering (`plugin.InvoicePlugin`). The numbers themselves are assigned by
the index, in the transaction that archives the invoice.
"""

from factory.invoicing.totals import Line, Totals, TotalsError, VatGroup, compute_totals, money

__all__ = ["Line", "Totals", "TotalsError", "VatGroup", "compute_totals", "money"]
