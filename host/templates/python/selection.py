

class Selection(wit_world.exports.Selection):
    def select_template(self, request: types.SelectionRequest) -> types.Selection:
        # Overrides name what the service wants; the default policy honours them.
        if request.overrides is not None:
            return defaults.select_template(request)
        available = {gpu.lower() for gpu in request.available_gpu_models}
        runnable = [
            (index, candidate.gpu_count or 1)
            for index, candidate in enumerate(request.candidates)
            if candidate.status == "Ready"
            and not candidate.derived
            and (candidate.gpu_model or "").lower() in available
        ]
        fewest = min((gpus for _, gpus in runnable), default=None)
        cheapest = [index for index, gpus in runnable if gpus == fewest]
        if len(cheapest) == 1:
            index = cheapest[0]
            return types.Selection(
                index=index,
                name=request.candidates[index].name,
                count=1,
                reason=types.SelectionReason.SELECTED,
            )
        # None, or a tie: the default policy ranks them (and says why nothing fits).
        return defaults.select_template(request)
