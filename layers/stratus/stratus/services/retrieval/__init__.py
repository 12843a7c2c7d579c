"""The one retrieval engine behind every query route (`POST /v1/search`, both retriever executes,
`POST /v1/features/search`):

- `stages`: the stage catalogue, and a pipeline's stages (nested or flat form, either spelling of
  their parameters, `{{INPUT.x}}` templates) checked and normalised;
- `plan`: stages + a namespace + inputs compiled into a `Plan`: the vector queries (legs) with
  their filters, the fusion, and the steps that run over the fused candidates;
- `engine`: runs a plan on the stores and the embedders: embedding (cached), the vector queries
  (concurrent), fusion, the steps, the filter warnings and the filter-usage counts;
- `steps`: the stages that run over the fused candidates (filter, sorts, limit, sample, group_by,
  mmr).

`POST /v1/search` builds its plan itself (services/search.py: its own field names in errors)
and runs it here like the others."""
